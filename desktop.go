//go:build desktop || dev

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
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
	hidden := fs.Bool("hidden", false, "start without showing the window, the gateway running (as at login)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	var wctx atomic.Pointer[context.Context]
	var quitting atomic.Bool
	notify := func(n app.Notice) {
		app.NotifyNative(n)
		if ctx := wctx.Load(); ctx != nil {
			runtime.EventsEmit(*ctx, "notice", n)
		}
	}
	g, err := app.Start(c.ctx, app.Config{Addr: *addr, DataDir: dir, Upstreams: c.upstreams.m, Log: c.stderr,
		UI: dashboard(), Desktop: true, Notify: notify})
	var handler http.Handler
	var served <-chan error
	switch {
	case errors.Is(err, app.ErrRunning):
		// Another sluice owns the data. If it is a window, the lock below
		// brings it forward and this process ends; if it is a headless
		// gateway, this window shows its dashboard.
		if _, derr := app.Dial(dir); derr != nil {
			return err
		}
		handler = app.RemoteHandler(dir)
	case err != nil:
		return err
	default:
		defer g.Stop()
		handler, served = g.Handler(), g.Done()
	}

	id := sha256.Sum256([]byte(dir))
	err = wails.Run(&options.App{
		Title:     "Sluice",
		Width:     1200,
		Height:    820,
		MinWidth:  480,
		MinHeight: 480,
		// Started at login, the gateway runs and the window waits: running
		// sluice again shows it.
		StartHidden: *hidden,
		AssetServer: &assetserver.Options{
			Assets:  dashboard(),
			Handler: handler,
		},
		OnStartup: func(ctx context.Context) {
			wctx.Store(&ctx)
			go func() {
				// The window closes when the command line is interrupted.
				select {
				case <-c.ctx.Done():
					runtime.Quit(ctx)
				case err := <-served:
					fmt.Fprintln(c.stderr, "sluice: gateway stopped:", err)
					runtime.Quit(ctx)
				case <-ctx.Done():
				}
			}()
		},
		OnBeforeClose: func(ctx context.Context) bool {
			// Every quit, from the window, a signal or the code above,
			// comes here on a goroutine of its own, and each that returns
			// false calls gtk_main_quit. A signal asks twice (Wails' own
			// handler and c.ctx), and a second call made as the main loop
			// ends crashes GTK: only the first quit goes on.
			if quitting.Load() {
				return true
			}
			if g != nil { // else the gateway is another process's
				set, err := g.Service.Settings(ctx)
				if err == nil && set.CloseAction == store.CloseHide && c.ctx.Err() == nil {
					runtime.WindowHide(ctx)
					return true // keep running: the gateway serves on
				}
			}
			return quitting.Swap(true)
		},
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId: "dev.sluice.desktop." + hex.EncodeToString(id[:8]),
			OnSecondInstanceLaunch: func(options.SecondInstanceData) {
				fmt.Fprintln(c.stderr, "sluice: started again: bringing the window forward")
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
