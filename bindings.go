//go:build bindings && !desktop && !dev

package main

// wails build and wails dev first build the app with the bindings tag and
// run it, for it to write the TypeScript of the Go methods bound to the
// window. Sluice binds none (the dashboard calls the JSON API over HTTP,
// in the window and in a browser alike), so that run has nothing to do,
// and must not start a gateway.
func (c *cli) desktop(args []string) error { return nil }
