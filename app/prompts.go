package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// Prompt calls made from the dashboard or the command line go through the
// prompt endpoint like any other, authenticated by a token that lives only
// in the running gateway's memory: their records name the token
// "(dashboard)" or "(cli)". No stored token can have such a name
// (store.DB.NewToken refuses parentheses), so a user's token never shares
// their records or a per-token budget.

// Sources of a prompt call made through the API.
const (
	FromDashboard = "dashboard"
	FromCLI       = "cli"
)

// appTokens is the gateway's TokenSource: the local tokens of the data
// file, and the in-memory tokens of the dashboard and the command line.
type appTokens struct {
	gateway.TokenSource
	secrets map[string]string // secret → token name
}

func (t appTokens) Token(ctx context.Context, secret string) (string, error) {
	if name, ok := t.secrets[secret]; ok {
		return name, nil
	}
	return t.TokenSource.Token(ctx, secret)
}

func newAppTokens(src gateway.TokenSource) appTokens {
	return appTokens{TokenSource: src, secrets: map[string]string{
		gateway.NewLocalToken(): appTokenName(FromDashboard),
		gateway.NewLocalToken(): appTokenName(FromCLI),
	}}
}

// appTokenName is the name of the in-memory token of a prompt call's
// source, FromDashboard or FromCLI.
func appTokenName(from string) string { return "(" + from + ")" }

func (t appTokens) secret(from string) (string, bool) {
	for s, n := range t.secrets {
		if n == appTokenName(from) {
			return s, true
		}
	}
	return "", false
}

// PromptInput is a prompt to render with some inputs.
type PromptInput struct {
	Prompt gateway.Prompt    `json:"prompt"`
	Inputs map[string]string `json:"inputs"`
}

// PromptRun is a call of a saved prompt.
type PromptRun struct {
	Name   string            `json:"name"`
	Inputs map[string]string `json:"inputs"`
	From   string            `json:"from"` // FromDashboard or FromCLI
}

func (s *Service) Prompts(ctx context.Context) ([]gateway.Prompt, error) { return s.DB.ListPrompts() }

// Prompt returns the prompt name: its current version, or version v.
func (s *Service) Prompt(ctx context.Context, name string, v int) (gateway.Prompt, error) {
	if v > 0 {
		return s.DB.PromptVersion(name, v)
	}
	return s.DB.GetPrompt(name)
}

func (s *Service) PromptVersions(ctx context.Context, name string) ([]gateway.Prompt, error) {
	return s.DB.PromptVersions(name)
}

func (s *Service) PutPrompt(ctx context.Context, p gateway.Prompt) (gateway.Prompt, error) {
	return s.DB.PutPrompt(p)
}

func (s *Service) DeletePrompt(ctx context.Context, name string) error {
	return s.DB.DeletePrompt(name)
}

func (s *Service) RollbackPrompt(ctx context.Context, name string, to int) (gateway.Prompt, error) {
	return s.DB.RollbackPrompt(name, to)
}

// PreviewPrompt renders a prompt, saved or not, with the inputs given.
func (s *Service) PreviewPrompt(ctx context.Context, in PromptInput) (gateway.PromptPreview, error) {
	ps, err := s.providers()
	if err != nil {
		return gateway.PromptPreview{}, err
	}
	t, _, err := s.priceTable()
	if err != nil {
		return gateway.PromptPreview{}, err
	}
	// s.Proxy is nil when no gateway runs here: the shipped formats.
	return s.Proxy.PreviewPrompt(in.Prompt, in.Inputs, ps, t), nil
}

// RunPrompt calls a saved prompt through the running gateway, metered and
// budgeted like any call to POST /p/NAME.
func (s *Service) RunPrompt(ctx context.Context, in PromptRun) (gateway.PromptResult, error) {
	if s.prompts == nil {
		return gateway.PromptResult{}, errNotServing
	}
	from := in.From
	if from == "" {
		from = FromDashboard
	}
	secret, ok := s.tokens.secret(from)
	if !ok {
		return gateway.PromptResult{}, fmt.Errorf("%w: from is %q or %q", store.ErrInvalid, FromDashboard, FromCLI)
	}
	return s.prompts.Run(ctx, in.Name, in.Inputs, secret, s.Addr)
}

// PromptSpend sums spend by prompt since the start of this month.
func (s *Service) PromptSpend(ctx context.Context) ([]store.SpendRow, error) {
	now := time.Now()
	return s.DB.PromptSpend(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()), time.Time{})
}

// promptAPIError maps a failed prompt call to the API's error.
func promptAPIError(err error) (*apiError, bool) {
	var pe *gateway.PromptError
	if !errors.As(err, &pe) {
		return nil, false
	}
	status := pe.Status
	if status == 0 || status == http.StatusUnauthorized || status == http.StatusForbidden {
		// The API's own 401 means "sign in again"; a prompt call that
		// could not authenticate upstream (no key stored) is not that.
		status = http.StatusBadGateway
	}
	msg := pe.Message
	if pe.Output != "" {
		out := pe.Output
		if len(out) > 500 {
			out = out[:500] + "…"
		}
		msg += "\nThe model answered: " + strings.TrimSpace(out)
	}
	return &apiError{Status: status, Code: pe.Type, Message: msg}, true
}
