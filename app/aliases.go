package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/gateway"
)

// Aliases returns every alias, by name, each with what keeps it from
// working as written.
func (s *Service) Aliases(ctx context.Context) ([]gateway.Alias, error) {
	as := s.DB.Aliases()
	ps, err := s.providers()
	if err != nil {
		return as, nil
	}
	t, _, err := s.priceTable()
	if err != nil {
		return as, nil
	}
	for i := range as {
		as[i].Warnings = s.aliasWarnings(ctx, as[i], ps, t)
	}
	return as, nil
}

// PutAlias saves a, replacing the alias of the same name, once each of
// its targets is another alias or a model Sluice can reach: provider/model,
// or a model the price table in force knows. Its name and targets are
// kept without surrounding space. The alias returned carries warnings: a
// target whose provider has no key is skipped by every request.
func (s *Service) PutAlias(ctx context.Context, a gateway.Alias) (gateway.Alias, error) {
	a = a.Trimmed()
	a.Warnings = nil
	if err := a.Validate(); err != nil {
		return gateway.Alias{}, err
	}
	ps, err := s.providers()
	if err != nil {
		return gateway.Alias{}, err
	}
	t, _, err := s.priceTable()
	if err != nil {
		return gateway.Alias{}, err
	}
	if err := a.CheckTargets(s.DB, ps, t); err != nil {
		return gateway.Alias{}, err
	}
	a, err = s.DB.PutAlias(a)
	if err != nil {
		return gateway.Alias{}, err
	}
	a.Warnings = s.aliasWarnings(ctx, a, ps, t)
	return a, nil
}

// aliasWarnings says what keeps a from working as written: a name
// provider/model (from before such names were refused), which requests
// never reach; a target whose provider has no key, which requests skip.
func (s *Service) aliasWarnings(ctx context.Context, a gateway.Alias, ps map[string]gateway.Provider, t *gateway.Prices) []string {
	var out []string
	if gateway.ShadowedByProvider(a.Name, ps) {
		out = append(out, fmt.Sprintf("unused: a request for %s reaches that provider's model itself; remove this alias and give it a name without a provider prefix", a.Name))
	}
	ts, err := a.Targets(s.DB, ps, t)
	if err != nil {
		return append(out, err.Error())
	}
	noKey := map[string]bool{}
	for _, tg := range ts {
		p := ps[tg.Provider]
		if p.Keyless || noKey[p.Name] {
			continue
		}
		if _, err := s.Keyring.Key(ctx, p.Name); errors.Is(err, gateway.ErrNoKey) {
			noKey[p.Name] = true
			out = append(out, fmt.Sprintf("Sluice has no %s key: requests with a Sluice token skip %s (add one with `sluice key set %s` or on the Keys page)", p.Name, tg, p.Name))
		}
	}
	return out
}

// DeleteAlias removes the alias name.
func (s *Service) DeleteAlias(ctx context.Context, name string) error { return s.DB.DeleteAlias(name) }

func (c *Remote) Aliases(ctx context.Context) (as []gateway.Alias, err error) {
	return as, c.do(ctx, "aliases", nil, &as)
}

func (c *Remote) PutAlias(ctx context.Context, in gateway.Alias) (a gateway.Alias, err error) {
	return a, c.do(ctx, "alias.put", in, &a)
}

func (c *Remote) DeleteAlias(ctx context.Context, name string) error {
	return c.do(ctx, "alias.delete", nameArgs{name}, nil)
}
