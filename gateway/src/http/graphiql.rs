//! The GraphiQL page served to browsers on the GraphQL path, with example operations
//! preloaded as tabs. Its scripts and styles are served by the binary itself (vendored from
//! the npm packages graphiql 3.8.3, react and react-dom 18.3.1 under `gateway/assets/graphiql/`,
//! with their licences), so the page works offline and loads nothing from elsewhere.

use crate::config::GraphiqlExample;

/// Where the assets are served, relative to the GraphQL path's folder; the version in the path
/// lets browsers keep them for good.
pub(super) const ASSET_PREFIX: &str = "/graphiql/3.8.3/";

/// The vendored files: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 7] = [
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "LICENSE-graphiql",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSE-graphiql"),
    ),
    (
        "LICENSE-react",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSE-react"),
    ),
    (
        "LICENSE-react-dom",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSE-react-dom"),
    ),
];

/// A vendored asset by file name: its content type and bytes.
pub(super) fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, content_type, bytes)| (*content_type, *bytes))
}

/// The HTML of a GraphiQL page talking to `endpoint`.
/// Most example tabs opened at first; the rest are a pick away, so a long list of examples
/// (the mobile app's operations) never crowds the tab bar.
const OPEN_TABS: usize = 4;

/// The HTML of a GraphiQL page talking to `endpoint`: a bar with the title and a picker of
/// every example by name, and GraphiQL with the first examples open as tabs (or, after a pick,
/// the picked one alone).
pub(super) fn page(endpoint: &str, title: &str, examples: &[GraphiqlExample]) -> String {
    let tabs: Vec<serde_json::Value> = examples
        .iter()
        .map(|e| serde_json::json!({ "query": e.query, "variables": e.variables, "headers": null }))
        .collect();
    // Embedded in a <script>: `</` must not appear literally.
    let tabs = serde_json::to_string(&tabs)
        .unwrap_or_else(|_| "[]".to_owned())
        .replace("</", "<\\/");
    let options: String = examples
        .iter()
        .enumerate()
        .map(|(i, e)| format!("<option value=\"{i}\">{}</option>", html_escape(&e.name)))
        .collect();
    let picker = if examples.is_empty() {
        String::new()
    } else {
        format!(
            r#"<label>Examples <select id="examples"><option value="">open one…</option>{options}</select></label>"#
        )
    };
    let endpoint = serde_json::to_string(endpoint).unwrap_or_else(|_| "\"/graphql\"".to_owned());
    let title = html_escape(title);
    let prefix = ASSET_PREFIX;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} GraphiQL</title>
  <link rel="icon" href="data:,">
  <style>
    body {{ margin: 0; height: 100vh; display: flex; flex-direction: column; font-family: system-ui, sans-serif; }}
    #bar {{ display: flex; gap: 1.5em; align-items: center; padding: 4px 12px; font-size: 14px; border-bottom: 1px solid #ddd; }}
    #graphiql {{ flex: 1; min-height: 0; }}
  </style>
  <link rel="stylesheet" href="{prefix}graphiql.min.css">
</head>
<body>
  <div id="bar"><strong>{title}</strong>{picker}<span id="cache-status"></span></div>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{prefix}react.production.min.js"></script>
  <script src="{prefix}react-dom.production.min.js"></script>
  <script src="{prefix}graphiql.min.js"></script>
  <script>
    // The engine's `Cache-Status` (and `Age` on hits) of the last answer, shown in the bar.
    const cacheStatus = document.getElementById('cache-status');
    // Subscriptions go over WebSocket on the same path (`graphql-transport-ws`); an
    // `Authorization` in the headers editor travels in `connection_init`.
    const socketUrl = new URL({endpoint}, location.href);
    socketUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const fetcher = GraphiQL.createFetcher({{
      url: {endpoint},
      subscriptionUrl: socketUrl.href,
      fetch: (input, init) => window.fetch(input, init).then((response) => {{
        const status = response.headers.get('cache-status');
        const age = response.headers.get('age');
        cacheStatus.textContent = status ? 'Cache-Status: ' + status + (age ? ', age ' + age + ' s' : '') : '';
        return response;
      }}),
    }});
    const examples = {tabs};
    const picked = new URLSearchParams(location.search).get('example');
    let defaultTabs = examples.slice(0, {OPEN_TABS});
    if (picked !== null && examples[Number(picked)]) {{
      // A pick opens that example alone; GraphiQL's saved tabs would otherwise win.
      localStorage.removeItem('graphiql:tabState');
      localStorage.removeItem('graphiql:query');
      defaultTabs = [examples[Number(picked)]];
    }}
    const select = document.getElementById('examples');
    if (select) select.addEventListener('change', () => {{
      if (select.value !== '') location.search = '?example=' + select.value;
    }});
    ReactDOM.createRoot(document.getElementById('graphiql'))
      .render(React.createElement(GraphiQL, {{ fetcher, defaultTabs: defaultTabs.length ? defaultTabs : undefined }}));
  </script>
</body>
</html>"#
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
