package app

import (
	"context"

	"github.com/sluicehq/sluice/gateway"
)

// Aliases returns every alias, by name.
func (s *Service) Aliases(ctx context.Context) ([]gateway.Alias, error) { return s.DB.Aliases(), nil }

// PutAlias saves a, replacing the alias of the same name, once each of
// its targets is another alias or a model Sluice can reach: provider/model,
// or a model the price table in force knows.
func (s *Service) PutAlias(ctx context.Context, a gateway.Alias) (gateway.Alias, error) {
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
	return s.DB.PutAlias(a)
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
