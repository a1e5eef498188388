package mysqlgw

import (
	"fmt"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// aliasRule is one `alias ALIAS NAME` line of the Corefile, kept with its
// position so an error at reload still points at the line that caused it.
type aliasRule struct {
	alias, target string
	where         string // "Corefile:12"
}

// overrides are the Corefile's own additions to whatever table is loaded:
// `region` lines replace or add regions, `alias` lines add names.
type overrides struct {
	regions []gwtable.Region
	aliases []aliasRule
}

// merge returns base with the overrides laid over it, every name checked to be
// unique. base is not modified, so the built-in table stays pristine.
func (o overrides) merge(base []gwtable.Region) ([]gwtable.Region, error) {
	regions := make([]gwtable.Region, 0, len(base)+len(o.regions))
	index := make(map[string]int, len(base)+len(o.regions))
	for _, r := range base {
		r.Aliases = append([]string(nil), r.Aliases...)
		index[r.Name] = len(regions)
		regions = append(regions, r)
	}
	for _, r := range o.regions {
		if i, ok := index[r.Name]; ok {
			r.Title = regions[i].Title
			regions[i] = r
			continue
		}
		index[r.Name] = len(regions)
		regions = append(regions, r)
	}
	// Every label, name or alias, must lead to exactly one region.
	owner := make(map[string]string, 2*len(regions))
	for _, r := range regions {
		for _, label := range append([]string{r.Name}, r.Aliases...) {
			if other, ok := owner[label]; ok {
				return nil, fmt.Errorf("name %q is used by both region %q and region %q", label, other, r.Name)
			}
			owner[label] = r.Name
		}
	}
	for _, a := range o.aliases {
		target, ok := owner[a.target]
		if !ok {
			return nil, fmt.Errorf("%s: alias %q: unknown region %s", a.where, a.alias, gwtable.Quote(a.target))
		}
		if other, ok := owner[a.alias]; ok {
			return nil, fmt.Errorf("%s: alias %q: already names region %q", a.where, a.alias, other)
		}
		owner[a.alias] = target
		i := index[target]
		regions[i].Aliases = append(regions[i].Aliases, a.alias)
	}
	return regions, nil
}
