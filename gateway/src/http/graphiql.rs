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
pub(super) fn page(endpoint: &str, title: &str, examples: &[GraphiqlExample]) -> String {
    let tabs: Vec<serde_json::Value> = examples
        .iter()
        .map(|e| serde_json::json!({ "query": e.query, "variables": e.variables, "headers": null }))
        .collect();
    // Embedded in a <script>: `</` must not appear literally.
    let tabs = serde_json::to_string(&tabs)
        .unwrap_or_else(|_| "[]".to_owned())
        .replace("</", "<\\/");
    let endpoint = serde_json::to_string(endpoint).unwrap_or_else(|_| "\"/graphql\"".to_owned());
    let title = html_escape(title);
    let prefix = ASSET_PREFIX;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{prefix}graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{prefix}react.production.min.js"></script>
  <script src="{prefix}react-dom.production.min.js"></script>
  <script src="{prefix}graphiql.min.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: {endpoint} }});
    const defaultTabs = {tabs};
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
