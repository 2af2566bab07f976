// Package webui holds the web view: plain HTML, CSS and JavaScript
// embedded in the binary (no build step, nothing fetched from elsewhere),
// and the handlers that serve them.
//
// Node serves the page of one node (the RPC server mounts it at GET /);
// Devnet the page of a whole `dnode devnet`; Assets the files both pages
// load, under AssetPrefix. The pages hold no data: their scripts read the
// RPC token from the URL's fragment (#token=..., never sent to a server),
// keep it in the tab's sessionStorage, and fetch everything they show
// with it — JSON-RPC over POST / with Authorization: Bearer, and the
// WebSocket /ws with the token as a subprotocol (rpc.BearerProtocolPrefix).
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections to the page's own origin only, and forbids
// framing.
package webui
