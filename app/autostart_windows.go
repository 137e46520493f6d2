package app

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// Enable writes the Run value under HKEY_CURRENT_USER that starts Sluice
// at login, replacing any value of an older install.
func (a Autostart) Enable() error {
	exe, args, err := a.command()
	if err != nil {
		return err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("start at login: open HKCU\\%s: %w", runKeyPath, err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValueName, runCommand(exe, args)); err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Disable removes the Run value; without one it does nothing.
func (a Autostart) Disable() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop starting at login: %w", err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("stop starting at login: %w", err)
	}
	return nil
}

// Enabled reports whether the Run value is there.
func (a Autostart) Enabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("start at login: %w", err)
	}
	defer k.Close()
	_, _, err = k.GetStringValue(runValueName)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("start at login: %w", err)
}

// Path names where the entry lives.
func (a Autostart) Path() (string, error) {
	return `HKEY_CURRENT_USER\` + runKeyPath + `\` + runValueName, nil
}
