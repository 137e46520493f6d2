//go:build desktop

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/store"
	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// desktop runs the gateway and opens its dashboard in a window. A second
// `sluice` for the same data brings that window forward instead.
func (c *cli) desktop(args []string) error {
	fs := c.flags("sluice")
	addr := fs.String("addr", app.DefaultAddr, "address to listen on")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	var wctx atomic.Pointer[context.Context]
	notify := func(n app.Notice) {
		app.NotifyNative(n)
		if ctx := wctx.Load(); ctx != nil {
			runtime.EventsEmit(*ctx, "notice", n)
		}
	}
	g, err := app.Start(c.ctx, app.Config{Addr: *addr, DataDir: dir, Upstreams: c.upstreams.m, Log: c.stderr,
		UI: dashboard(), Desktop: true, Notify: notify})
	if err != nil {
		return err
	}
	defer g.Stop()

	id := sha256.Sum256([]byte(dir))
	err = wails.Run(&options.App{
		Title:     "Sluice",
		Width:     1200,
		Height:    820,
		MinWidth:  480,
		MinHeight: 480,
		AssetServer: &assetserver.Options{
			Assets:  dashboard(),
			Handler: g.Handler(),
		},
		OnStartup: func(ctx context.Context) {
			wctx.Store(&ctx)
			go func() {
				// The window closes when the command line is interrupted.
				select {
				case <-c.ctx.Done():
					runtime.Quit(ctx)
				case err := <-g.Done():
					fmt.Fprintln(c.stderr, "sluice: gateway stopped:", err)
					runtime.Quit(ctx)
				case <-ctx.Done():
				}
			}()
		},
		OnBeforeClose: func(ctx context.Context) bool {
			set, err := g.Service.Settings(ctx)
			if err == nil && set.CloseAction == store.CloseHide && c.ctx.Err() == nil {
				runtime.WindowHide(ctx)
				return true // keep running: the gateway serves on
			}
			return false
		},
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId: "dev.sluice.desktop." + hex.EncodeToString(id[:8]),
			OnSecondInstanceLaunch: func(options.SecondInstanceData) {
				if ctx := wctx.Load(); ctx != nil {
					runtime.WindowShow(*ctx)
					runtime.WindowUnminimise(*ctx)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("open the window: %w", err)
	}
	return nil
}
