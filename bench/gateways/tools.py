#!/usr/bin/env python3
"""Helpers for bench/gateways.sh (standard library only).

  tools.py body K6_JS OUT_JSON          write {"query": TestQuery} taken from the benchmark's k6.js
  tools.py check ANSWER REFERENCE LABEL  require data and no errors; compare with the reference
                                         answer (written from ANSWER when it does not exist yet)
  tools.py report RESULTS_TSV META_JSON  print the markdown results section
"""
import json
import os
import re
import sys


def body(k6_path, out_path):
    src = open(k6_path, encoding="utf-8").read()
    m = re.search(r"const graphqlRequest = \{\s*payload: JSON\.stringify\(\{\s*query: `(.*?)`", src, re.S)
    if not m or "query TestQuery" not in m.group(1):
        sys.exit(f"could not find the TestQuery payload in {k6_path}")
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump({"query": m.group(1)}, out)


def check(answer_path, reference_path, label):
    raw = open(answer_path, encoding="utf-8").read()
    try:
        answer = json.loads(raw)
    except ValueError as err:
        sys.exit(f"{label}: the answer is not JSON ({err}): {raw[:300]!r}")
    if not isinstance(answer, dict) or answer.get("errors") or not answer.get("data"):
        sys.exit(f"{label}: the answer has errors or no data: {raw[:600]}")
    if not os.path.exists(reference_path):
        with open(reference_path, "w", encoding="utf-8") as out:
            json.dump(answer, out)
        print(f"{label}: answer taken as the reference ({len(raw)} bytes)")
        return
    reference = json.load(open(reference_path, encoding="utf-8"))
    if json.dumps(answer, sort_keys=True) != json.dumps(reference, sort_keys=True):
        sys.exit(f"{label}: the answer differs from the reference {reference_path} (see {answer_path})")
    same_order = json.dumps(answer) == json.dumps(reference)
    print(f"{label}: answer equals the reference" + ("" if same_order else " (keys in another order)"))


COLUMNS = ["label", "gateway", "sub_dedupe", "client_dedupe", "connections", "requests", "seconds",
           "rps", "p50_ms", "p99_ms", "errors", "gw_cpu_us", "sub_cpu_us", "gw_cores",
           "rss_before_mb", "rss_after_mb", "peak_mb", "kind", "others"]
TEXT = {"label", "gateway", "sub_dedupe", "client_dedupe", "kind"}
ONOFF = {"true": "on", "false": "off"}


def fmt(v, digits=0):
    return f"{v:,.{digits}f}" if digits else f"{v:,.0f}"


def report(results_path, meta_path):
    meta = json.load(open(meta_path, encoding="utf-8"))
    rows = []
    for line in open(results_path, encoding="utf-8"):
        if not line.strip():
            continue
        row = dict(zip(COLUMNS, line.rstrip("\n").split("\t")))
        for key in COLUMNS:
            if key in TEXT:
                row[key] = ONOFF.get(row[key], row[key])
            else:
                row[key] = float(row[key])
        rows.append(row)
    main = [r for r in rows if r["kind"] == "main"]
    scaling = [r for r in rows if r["kind"] == "scaling"]
    out = []
    w = out.append
    w(f"## Gateways benchmark, {meta['date']}")
    w("")
    w(f"`bench/gateways.sh` (graphql-gateways-benchmark `{meta['benchmark_commit'][:8]}`, its Rust subgraphs "
      f"and `k6.js` TestQuery). Tributary `{meta['tributary_commit']}`; Hive Router {meta['hive_version']}"
      + (f"; Apollo Gateway {meta['apollo_version']}" if meta.get("apollo_version") else "") + ".")
    w(f"Load: `wrk -t{meta['threads']} -c{meta['connections']}`, closed loop, {meta['warmup']} s warm-up then "
      f"{meta['duration']} s measured, one fresh gateway process per row, the same warm subgraphs. "
      f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), shared by wrk, the gateway and the subgraphs.")
    w("CPU columns are µs of CPU time (utime+stime) per request over the measured window; `cores` is "
      "the gateway's CPU time over wall time. Errors are non-2xx/3xx answers plus socket errors. "
      "RSS before is after start and one request; after is at the end of the run; peak is VmHWM. "
      "Others' cores: CPU used by every other process on the machine during the window (busy CPU "
      "minus gateway, subgraphs and wrk); well above 0 means the row was disturbed.")
    w("")
    w("| gateway | subgraph dedupe | client dedupe | RPS | p50 ms | p99 ms | errors | gateway CPU µs/req "
      "| gateway cores | subgraphs CPU µs/req | RSS before MB | RSS after MB | peak RSS MB | others' cores |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in main:
        w(f"| {r['label']} | {r['sub_dedupe']} | {r['client_dedupe']} | {fmt(r['rps'])} | {r['p50_ms']:.2f} "
          f"| {r['p99_ms']:.2f} | {fmt(r['errors'])} | {fmt(r['gw_cpu_us'])} | {r['gw_cores']:.2f} "
          f"| {fmt(r['sub_cpu_us'])} | {r['rss_before_mb']:.1f} | {r['rss_after_mb']:.1f} | {r['peak_mb']:.1f} "
          f"| {r['others']:.2f} |")
    ratio_rows = []
    for trib in (r for r in main if r["gateway"] == "tributary"):
        for peer in main:
            if peer["gateway"] == "tributary":
                continue
            # Compare within a regime; a peer without the knob (n/a) is compared with both.
            if peer["sub_dedupe"] not in (trib["sub_dedupe"], "n/a"):
                continue
            if peer["client_dedupe"] not in (trib["client_dedupe"], "n/a"):
                continue
            rps = trib["rps"] / peer["rps"] if peer["rps"] else float("nan")
            cpu = trib["gw_cpu_us"] / peer["gw_cpu_us"] if peer["gw_cpu_us"] else float("nan")
            regime = lambda r: f" (subgraph dedupe {r['sub_dedupe']}, client dedupe {r['client_dedupe']})"
            peer_name = peer["label"] + ("" if peer["sub_dedupe"] == "n/a" else regime(peer))
            ratio_rows.append(f"| {trib['label']}{regime(trib)} | {peer_name} "
                              f"| {rps:.2f}x | {cpu:.2f}x |")
    if ratio_rows:
        w("")
        w("Tributary relative to each peer (RPS: higher is better; CPU per request: lower is better):")
        w("")
        w("| Tributary | peer | RPS ratio | gateway CPU/req ratio |")
        w("|---|---|---:|---:|")
        out.extend(ratio_rows)
    if scaling:
        w("")
        w(f"Scaling (subgraph dedupe off, {meta['warmup']} s warm-up, {meta['duration']} s measured per cell):")
        w("")
        w("| connections | gateway | RPS | p50 ms | p99 ms | errors | gateway CPU µs/req | gateway cores "
          "| RSS before MB | RSS after MB | peak RSS MB | others' cores | Tributary / Hive RPS |")
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        by_c = {}
        for r in scaling:
            by_c.setdefault(r["connections"], {})[r["gateway"]] = r
        for r in scaling:
            pair = by_c[r["connections"]]
            ratio = ""
            if r["gateway"] == "tributary" and "hive" in pair and pair["hive"]["rps"]:
                ratio = f"{r['rps'] / pair['hive']['rps']:.2f}x"
            w(f"| {int(r['connections'])} | {r['label']} | {fmt(r['rps'])} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {fmt(r['errors'])} | {fmt(r['gw_cpu_us'])} | {r['gw_cores']:.2f} | {r['rss_before_mb']:.1f} "
              f"| {r['rss_after_mb']:.1f} | {r['peak_mb']:.1f} | {r['others']:.2f} | {ratio} |")
    disturbed = [r for r in rows if r["others"] > 0.15]
    if disturbed:
        w("")
        w(f"**Warning:** other processes used more than 0.15 of a core during {len(disturbed)} of "
          f"{len(rows)} rows (up to {max(r['others'] for r in disturbed):.2f} cores); rerun on an idle machine "
          "before drawing conclusions from those rows.")
    print("\n".join(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"body": body, "check": check, "report": report}[cmd](*args)
