package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/zalando/go-keyring"
)

// Keyring errors.
var (
	// ErrNoKeyring means no OS keyring can be used: none is installed or
	// running, or it does not answer. Keys then come from the environment
	// for the run, and nothing can be stored.
	ErrNoKeyring = errors.New("no keyring available")
	// errKeyringTimeout means a keyring call did not return within
	// Keyring.Timeout. It is usually wrapped in an ErrNoKeyring error.
	errKeyringTimeout = errors.New("keyring did not answer in time")
)

// Where a key came from, as Keyring.Source reports it.
const (
	sourceKeyring     = "keyring"
	sourceEnvironment = "environment"
)

// defaultService is the keyring service name Sluice's keys are filed under.
const defaultService = "sluice"

// defaultKeyringTimeout bounds each keyring call when Keyring.Timeout is 0.
const defaultKeyringTimeout = 3 * time.Second

// probeAccount is the account Probe looks up. It names no provider, so the
// lookup only finds out whether the keyring answers.
const probeAccount = "sluice-probe"

// Keyring keeps provider API keys in the OS keyring (the Secret Service on
// Linux and the BSDs, the macOS Keychain, the Windows Credential Manager),
// one entry per provider under the account named after the provider.
//
// Keys are read once and cached in memory for the life of the Keyring;
// a key stored or removed by another process is not noticed until then.
// When no keyring can be used, Key falls back to the provider's environment
// variable (see gateway.KeyEnvVars) for the run; such a key is held in memory only and
// never written anywhere.
//
// Every keyring call is bounded by Timeout, since a locked Secret Service
// may wait forever on a password prompt nobody sees. Calls are made one at
// a time: a call that has been given up on keeps the keyring busy until it
// returns, so at most one abandoned call exists at any time, and its result,
// when it comes, still updates the cache.
//
// No key ever appears in an error returned by Keyring.
//
// The zero value is ready to use. A Keyring is safe for concurrent use and
// must not be copied after first use.
type Keyring struct {
	// Service is the keyring service name. "" means defaultService.
	Service string
	// Timeout bounds each keyring call. 0 means 3s.
	Timeout time.Duration
	// Env looks up environment variables for the fallback. nil means
	// os.Getenv.
	Env func(string) string

	// backend is where keyring calls go. nil means the OS keyring through
	// go-keyring (systemKeyring).
	backend keyringBackend

	slotOnce sync.Once
	// slot holds a token while a keyring call runs, including one that
	// has been given up on.
	slot chan struct{}

	mu sync.Mutex // guards keys and broken
	// keys holds the keys read or stored so far, by provider.
	keys map[string]cachedKey
	// broken, when not nil, is why the keyring cannot be used (an error
	// wrapping ErrNoKeyring); Key then reads the environment without
	// trying the keyring. Set, Delete and Probe always try the keyring, and
	// clear it when the keyring answers.
	broken error
}

var _ gateway.KeySource = (*Keyring)(nil)

type cachedKey struct {
	key    string
	source string // sourceKeyring or sourceEnvironment
}

// keyringBackend is the part of go-keyring that Keyring uses.
type keyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// Key returns provider's API key: from memory when it has been read
// before, else from the keyring, else, when no keyring can be used, from
// the environment. It returns an error wrapping gateway.ErrNoKey when there
// is no key; when that is because there is no keyring, the error also wraps
// ErrNoKeyring. When the keyring works but holds no key for provider, the
// environment is not consulted.
func (k *Keyring) Key(ctx context.Context, provider string) (string, error) {
	if provider == "" {
		return "", fmt.Errorf("read key: no provider named: %w", gateway.ErrNoKey)
	}
	k.mu.Lock()
	c, ok := k.keys[provider]
	broken := k.broken
	k.mu.Unlock()
	if ok {
		return c.key, nil
	}
	if broken != nil {
		return k.fromEnv(provider, broken)
	}
	var key string
	err := k.call(ctx, func(b keyringBackend) error {
		// Another caller may have read it while this one waited.
		k.mu.Lock()
		c, ok := k.keys[provider]
		k.mu.Unlock()
		if ok && c.source == sourceKeyring {
			key = c.key
			return nil
		}
		v, err := b.Get(k.service(), provider)
		if err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return k.markBroken(err)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.workingLocked()
		if err == nil {
			k.cacheLocked(provider, v, sourceKeyring)
			key = v
		}
		return err
	})
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, keyring.ErrNotFound):
		return "", fmt.Errorf("read %s key from keyring: %w", provider, gateway.ErrNoKey)
	case errors.Is(err, ErrNoKeyring):
		return k.fromEnv(provider, err)
	}
	return "", fmt.Errorf("read %s key from keyring: %w", provider, err)
}

// fromEnv returns provider's key from the environment and caches it, or an
// error wrapping gateway.ErrNoKey and broken.
func (k *Keyring) fromEnv(provider string, broken error) (string, error) {
	getenv := k.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, name := range gateway.KeyEnvVars(provider) {
		v := strings.TrimSpace(getenv(name))
		// `sluice env` exports local tokens in OPENAI_API_KEY and
		// friends: such a value is not a provider key and must never be
		// sent upstream.
		if v == "" || gateway.IsLocalToken(v) {
			continue
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if c, ok := k.keys[provider]; ok {
			// A late keyring answer got there first; it wins.
			return c.key, nil
		}
		k.cacheLocked(provider, v, sourceEnvironment)
		return v, nil
	}
	names := strings.Join(gateway.KeyEnvVars(provider), " or ")
	if names == "" {
		names = "no environment variable"
	}
	return "", &keyError{
		msg:  fmt.Sprintf("read %s key: %s is not set, and %v", provider, names, broken),
		errs: []error{gateway.ErrNoKey, broken},
	}
}

// Set stores key as provider's key in the keyring, replacing any key
// stored before, and caches it. Surrounding white space is dropped. It
// refuses an empty key and a Sluice local token. With no keyring it returns
// an error wrapping ErrNoKeyring and stores nothing anywhere.
func (k *Keyring) Set(ctx context.Context, provider, key string) error {
	key = strings.TrimSpace(key)
	switch {
	case provider == "":
		return invalidf("store key: no provider named")
	case key == "":
		return invalidf("store %s key: the key is empty", provider)
	case gateway.IsLocalToken(key):
		return invalidf("store %s key: that is a Sluice local token, not a %s API key", provider, provider)
	}
	err := k.call(ctx, func(b keyringBackend) error {
		err := b.Set(k.service(), provider, key)
		switch {
		case errors.Is(err, keyring.ErrSetDataTooBig):
			return fmt.Errorf("the key is too long for the %s", backendName())
		case err != nil:
			return k.markBroken(redact(err, key))
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.workingLocked()
		k.cacheLocked(provider, key, sourceKeyring)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %s key in keyring: %w", provider, err)
	}
	return nil
}

// Delete removes provider's key from the keyring and from memory. It
// returns an error wrapping gateway.ErrNoKey when the keyring holds none,
// and one wrapping ErrNoKeyring when there is no keyring. A key taken from
// the environment stays in use.
func (k *Keyring) Delete(ctx context.Context, provider string) error {
	if provider == "" {
		return errors.New("delete key: no provider named")
	}
	err := k.call(ctx, func(b keyringBackend) error {
		err := b.Delete(k.service(), provider)
		if err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return k.markBroken(err)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.workingLocked()
		if k.keys[provider].source == sourceKeyring {
			delete(k.keys, provider)
		}
		if err != nil {
			return gateway.ErrNoKey
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s key from keyring: %w", provider, err)
	}
	return nil
}

// Probe reports whether the keyring can be used. backend names the keyring
// tried ("Secret Service (D-Bus)", "macOS Keychain", "Windows Credential
// Manager"), whether or not it works. err, when not nil, wraps ErrNoKeyring
// and its cause, and its message says plainly what is missing and that keys
// will be read from the environment for this run: show it to the user.
//
// Probe always asks the keyring, so it also notices a keyring that has come
// back after failing.
func (k *Keyring) Probe(ctx context.Context) (backend string, err error) {
	err = k.call(ctx, func(b keyringBackend) error {
		_, err := b.Get(k.service(), probeAccount)
		if err != nil && !errors.Is(err, keyring.ErrNotFound) {
			return k.markBroken(err)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.workingLocked()
		return nil
	})
	switch {
	case err == nil:
		return backendName(), nil
	case errors.Is(err, ErrNoKeyring):
		return backendName(), err
	}
	return backendName(), fmt.Errorf("probe keyring: %w", err)
}

// Source reports where provider's key in memory came from: "keyring" (read
// from or stored in the OS keyring), "environment" (read from its
// environment variable), or "" when no key for provider has been read or stored
// yet. It never touches the keyring; call Key first.
func (k *Keyring) Source(provider string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[provider].source
}

// call runs op on the backend in a goroutine of its own, one call at a
// time, and waits for it until ctx is done or the timeout passes. op
// records what the keyring's answer means for k itself, so an answer that
// comes after its caller has given up still takes effect.
//
// On timeout, call marks the keyring broken and returns the error wrapping
// ErrNoKeyring and errKeyringTimeout; if the abandoned call later gets an
// answer from the keyring, the mark is lifted. On ctx's end it returns
// ctx's error and marks nothing. Either way the goroutine ends only when
// the backend returns, since go-keyring calls cannot be canceled; until
// then the keyring is busy and later calls wait for it, up to their own
// timeout.
func (k *Keyring) call(ctx context.Context, op func(keyringBackend) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.slotOnce.Do(func() { k.slot = make(chan struct{}, 1) })
	timeout := k.timeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	timedOut := fmt.Errorf("%w (no answer within %v)", errKeyringTimeout, timeout)

	select {
	case k.slot <- struct{}{}:
	case <-timer.C:
		return k.markBroken(timedOut)
	case <-ctx.Done():
		return ctx.Err()
	}
	b := k.backend
	if b == nil {
		b = systemKeyring{}
	}
	var finished, abandoned bool // guarded by k.mu
	done := make(chan error, 1)
	go func() {
		defer func() { <-k.slot }()
		err := k.run(op, b)
		k.mu.Lock()
		finished = true
		if abandoned && !errors.Is(err, ErrNoKeyring) {
			k.workingLocked()
		}
		k.mu.Unlock()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	k.mu.Lock()
	if finished {
		k.mu.Unlock()
		return <-done
	}
	abandoned = true
	err := k.unusable(timedOut)
	k.broken = err
	k.mu.Unlock()
	return err
}

// run calls op, turning a panic into an error wrapping ErrNoKeyring.
func (k *Keyring) run(op func(keyringBackend) error, b keyringBackend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			// The panic value is not shown: it could hold anything the
			// backend was handed, keys included.
			err = k.markBroken(fmt.Errorf("keyring backend panicked (%T)", r))
		}
	}()
	return op(b)
}

// markBroken records that the keyring cannot be used because of cause and
// returns the error that says so.
func (k *Keyring) markBroken(cause error) error {
	err := k.unusable(cause)
	k.mu.Lock()
	k.broken = err
	k.mu.Unlock()
	return err
}

// workingLocked records that the keyring answered. Keys taken from the
// environment while it did not are dropped, so Key reads the keyring again.
// k.mu must be held.
func (k *Keyring) workingLocked() {
	if k.broken == nil {
		return
	}
	k.broken = nil
	for p, c := range k.keys {
		if c.source == sourceEnvironment {
			delete(k.keys, p)
		}
	}
}

// cacheLocked keeps key in memory. k.mu must be held.
func (k *Keyring) cacheLocked(provider, key, source string) {
	if k.keys == nil {
		k.keys = make(map[string]cachedKey)
	}
	k.keys[provider] = cachedKey{key: key, source: source}
}

// unusable turns the cause of a keyring failure into an error wrapping
// ErrNoKeyring and cause, with a message a user can act on.
func (k *Keyring) unusable(cause error) error {
	name := backendName()
	var what string
	switch {
	case errors.Is(cause, errNoSessionBus):
		what = "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), " +
			"so no Secret Service such as gnome-keyring or KWallet can be reached"
	case errors.Is(cause, errKeyringTimeout):
		what = fmt.Sprintf("the %s did not answer within %v (is it locked, waiting for its password?)", name, k.timeout())
	case errors.Is(cause, keyring.ErrUnsupportedPlatform):
		what = "Sluice cannot use a keyring on " + runtime.GOOS
	case usesSecretService():
		what = "no usable Secret Service such as gnome-keyring or KWallet on the D-Bus session bus: " +
			"none is running, or it is locked (" + cause.Error() + ")"
	default:
		what = "the " + name + " cannot be used (" + cause.Error() + ")"
	}
	return &keyError{
		msg: "no keyring: " + what + "; provider keys will be read from the environment " +
			"(OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, ...) for this run",
		errs: []error{ErrNoKeyring, cause},
	}
}

func (k *Keyring) service() string {
	if k.Service == "" {
		return defaultService
	}
	return k.Service
}

func (k *Keyring) timeout() time.Duration {
	if k.Timeout <= 0 {
		return defaultKeyringTimeout
	}
	return k.Timeout
}

// keyError is an error with a message of its own that matches, with
// errors.Is and errors.As, the errors it wraps.
type keyError struct {
	msg  string
	errs []error
}

func (e *keyError) Error() string   { return e.msg }
func (e *keyError) Unwrap() []error { return e.errs }

// redact returns err, or when its message contains key, an error that says
// the same with the key masked. The returned error still matches what err
// matches with errors.Is but does not unwrap to err, whose message would
// reveal the key.
func redact(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), key, Mask(key)), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// Mask returns key with all but its last four characters hidden, keeping
// the prefix a provider documents for its keys (gateway.KeyPrefix), such
// as "sk-proj-" or "sk-ant-", that says what kind of key it is:
// "sk-proj-...a1b2". A key too short for that to leave at least
// sixteen characters hidden is masked entirely.
func Mask(key string) string {
	const shown, hidden = 4, 16
	const full = "****"
	r := []rune(key)
	prefix := gateway.KeyPrefix(key)
	n := len([]rune(prefix))
	if len(r)-n-shown < hidden {
		if len(r)-shown < hidden {
			return full
		}
		prefix, n = "", 0
	}
	return prefix + "..." + string(r[len(r)-shown:])
}

// backendName names the keyring go-keyring uses on this system.
func backendName() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	}
	return "Secret Service (D-Bus)"
}

// usesSecretService reports whether go-keyring talks to a Secret Service
// over D-Bus on this system.
func usesSecretService() bool {
	return runtime.GOOS != "darwin" && runtime.GOOS != "windows"
}

// errNoSessionBus is returned instead of calling a Secret Service when no
// D-Bus session bus is known.
var errNoSessionBus = errors.New("no D-Bus session bus")

// systemKeyring is the OS keyring through go-keyring.
type systemKeyring struct{}

func (systemKeyring) Get(service, user string) (string, error) {
	if err := checkSessionBus(); err != nil {
		return "", err
	}
	return keyring.Get(service, user)
}

func (systemKeyring) Set(service, user, password string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Set(service, user, password)
}

func (systemKeyring) Delete(service, user string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Delete(service, user)
}

// checkSessionBus returns errNoSessionBus where go-keyring would need a
// D-Bus session bus and none is known. Without one, the D-Bus library runs
// dbus-launch, which starts a bus of its own that outlives Sluice and may
// start a keyring daemon nobody can unlock.
func checkSessionBus() error {
	if !usesSecretService() || sessionBusKnown(os.Getenv, "/run/user/"+strconv.Itoa(os.Getuid())) {
		return nil
	}
	return errNoSessionBus
}

// sessionBusKnown reports whether a session bus can be found without
// starting one, as the D-Bus library looks for it: DBUS_SESSION_BUS_ADDRESS,
// else the bus socket or address file in the user's runtime directory.
func sessionBusKnown(getenv func(string) string, runtimeDir string) bool {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return true
	}
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(runtimeDir, name)); err == nil {
			return true
		}
	}
	return false
}
