//go:build !windows

package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Enable writes the entry that starts Sluice at login, replacing any
// entry of an older install.
func (a Autostart) Enable() error {
	exe, args, err := a.command()
	if err != nil {
		return err
	}
	path, content, err := a.entry(exe, args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Disable removes the entry; without one it does nothing.
func (a Autostart) Disable() error {
	path, err := a.path()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stop starting at login: %w", err)
	}
	return nil
}

// Enabled reports whether the entry is there.
func (a Autostart) Enabled() (bool, error) {
	path, err := a.path()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("start at login: %w", err)
}

// Path is the file of the entry.
func (a Autostart) Path() (string, error) { return a.path() }
