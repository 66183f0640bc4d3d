//! The GraphiQL page served to browsers on the GraphQL path.

/// The HTML of a GraphiQL page talking to `endpoint`.
pub(super) fn page(endpoint: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tributary GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script crossorigin src="https://unpkg.com/react@18.3.1/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: {endpoint:?} }});
    ReactDOM.createRoot(document.getElementById('graphiql'))
      .render(React.createElement(GraphiQL, {{ fetcher }}));
  </script>
</body>
</html>"#
    )
}
