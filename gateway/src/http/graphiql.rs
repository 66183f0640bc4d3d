//! The GraphiQL page served to browsers on the GraphQL path, with example operations
//! preloaded as tabs.

use crate::config::GraphiqlExample;

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
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script crossorigin src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>
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
