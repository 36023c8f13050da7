package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
)

// Quota prints the roles' quotas (GET_QUOTA) as a table: ROLE,
// GUARANTEES, LIMITS, each as NAME:VALUE;... ("-": none).
func Quota(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_QUOTA)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	tw := newTable(out.W, "ROLE", "GUARANTEES", "LIMITS")
	for _, qc := range resp.GetGetQuota().GetStatus().GetConfigs() {
		row(tw, qc.GetRole(), formatQuantities(qc.GetGuarantees()), formatQuantities(qc.GetLimits()))
	}
	return tw.Flush()
}

// formatQuantities prints quantities as NAME:VALUE;... by name, "-" when
// there are none.
func formatQuantities(m map[string]*mesos.Value_Scalar) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, name+":"+num(m[name].GetValue()))
	}
	return strings.Join(parts, ";")
}

// ParseQuantities parses NAME:VALUE;NAME:VALUE... (as --resources writes
// scalars; "" is none) into a quota's guarantees or limits: each value a
// non-negative number, each name once.
func ParseQuantities(s string) (map[string]*mesos.Value_Scalar, error) {
	out := map[string]*mesos.Value_Scalar{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ";") {
		name, vs, ok := strings.Cut(strings.TrimSpace(part), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: expecting NAME:VALUE", part)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(vs), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%q: the value must be a non-negative number", part)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%q: %s appears more than once", part, name)
		}
		out[name] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	return out, nil
}

// SetQuota sets a role's quota (UPDATE_QUOTA) to the guarantees and limits
// given, as NAME:VALUE;... each: the role's whole quota, what is not given
// is not guaranteed or not limited. force skips the master's check that
// the cluster can hold every guarantee.
func SetQuota(ctx context.Context, c *operator.Client, role, guarantees, limits string, force bool, w io.Writer) error {
	g, err := ParseQuantities(guarantees)
	if err != nil {
		return fmt.Errorf("--guarantee: %w", err)
	}
	l, err := ParseQuantities(limits)
	if err != nil {
		return fmt.Errorf("--limit: %w", err)
	}
	if len(g) == 0 && len(l) == 0 {
		return fmt.Errorf("expecting --guarantee or --limit (quota remove ROLE removes a quota)")
	}
	if err := updateQuota(ctx, c, &quota.QuotaConfig{Role: proto.String(role), Guarantees: g, Limits: l}, force); err != nil {
		return err
	}
	fmt.Fprintf(w, "Quota of role '%s' set: guarantees %s, limits %s\n", role, formatQuantities(g), formatQuantities(l))
	return nil
}

// RemoveQuota removes a role's quota (UPDATE_QUOTA with neither
// guarantees nor limits).
func RemoveQuota(ctx context.Context, c *operator.Client, role string, w io.Writer) error {
	if err := updateQuota(ctx, c, &quota.QuotaConfig{Role: proto.String(role)}, false); err != nil {
		return err
	}
	fmt.Fprintf(w, "Quota of role '%s' removed\n", role)
	return nil
}

func updateQuota(ctx context.Context, c *operator.Client, qc *quota.QuotaConfig, force bool) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{
		Force: proto.Bool(force), QuotaConfigs: []*quota.QuotaConfig{qc},
	}})
	return err
}
