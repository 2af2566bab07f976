// Package web tests dnode's web view in a real browser: headless Chromium
// (Debian's chromium package, /usr/bin/chromium) driven by chromedp. It
// is a module of its own so that chromedp stays out of the dnode
// module's dependency graph; .ci/run runs it after the main suite.
//
// The tests skip, saying why, when no Chromium is installed; they
// install nothing. DNODE_CHROMIUM names another binary. With
// -web.screenshots DIR they write web-node.png and web-devnet.png there
// (the images of docs/img):
//
//	cd integration/web && go test -run . -web.screenshots ../../docs/img
package web
