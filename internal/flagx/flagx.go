// Package flagx owns gomesos's command-line conventions: Mesos-style flag
// names, MESOS_<FLAG> environment variables as defaults, and flags holding
// Mesos duration strings such as "5secs", "15mins" and "100ms" (whose
// format lives in package codec).
package flagx

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// Duration is a flag.Value holding a Mesos duration.
type Duration struct{ D *time.Duration }

func (d Duration) String() string {
	if d.D == nil {
		return ""
	}
	return codec.FormatDuration(*d.D)
}

// Set parses a Mesos duration.
func (d Duration) Set(s string) error {
	v, err := codec.ParseDuration(s)
	if err != nil {
		return err
	}
	*d.D = v
	return nil
}

// Parse parses args into fs after taking defaults from MESOS_<FLAG>
// environment variables (upper-cased flag names). Command-line values win.
// Errors name the offending flag or variable.
func Parse(fs *flag.FlagSet, args []string, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := "MESOS_" + strings.ToUpper(f.Name)
		if v, ok := env[name]; ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment variable %s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// Usage returns a usage function that lists every flag with its default
// and the environment variable that sets it.
func Usage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\nFlags (each may also be set as MESOS_<FLAG> in the environment):\n", synopsis)
		PrintDefaults(w, fs)
	}
}

// PrintDefaults lists the flags of fs in name order.
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		def := f.DefValue
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(w, "  --%s=VALUE\n      %s (default: %s)\n", f.Name, f.Usage, def)
	}
}

// Environ is os.Environ, for callers that want the real environment.
func Environ() []string { return os.Environ() }

// Bytes is a flag.Value holding a Mesos byte size such as "2GB".
type Bytes struct{ B *int64 }

func (b Bytes) String() string {
	if b.B == nil {
		return ""
	}
	return codec.FormatBytes(*b.B)
}

// Set parses a Mesos byte size.
func (b Bytes) Set(s string) error {
	v, err := codec.ParseBytes(s)
	if err != nil {
		return err
	}
	*b.B = v
	return nil
}

// Rate is a flag.Value holding a Mesos rate limit, "N/duration" (as
// --agent_removal_rate_limit="1/10mins": one per ten minutes), stored as
// the interval between two events (duration/N). Empty means no limit.
type Rate struct{ Interval *time.Duration }

func (r Rate) String() string {
	if r.Interval == nil || *r.Interval == 0 {
		return ""
	}
	return "1/" + codec.FormatDuration(*r.Interval)
}

// Set parses "N/duration".
func (r Rate) Set(s string) error {
	if s == "" {
		*r.Interval = 0
		return nil
	}
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("invalid rate %q: expecting 'N/duration', e.g. '1/10mins'", s)
	}
	var count float64
	if _, err := fmt.Sscanf(n, "%g", &count); err != nil || count <= 0 {
		return fmt.Errorf("invalid rate %q: %q is not a positive number", s, n)
	}
	per, err := codec.ParseDuration(d)
	if err != nil {
		return fmt.Errorf("invalid rate %q: %w", s, err)
	}
	if per <= 0 {
		return fmt.Errorf("invalid rate %q: the duration must be positive", s)
	}
	*r.Interval = time.Duration(float64(per) / count)
	return nil
}

// Percent is a flag.Value holding a percentage, "N%" (or a bare number),
// stored as a fraction (100% = 1).
type Percent struct{ F *float64 }

func (p Percent) String() string {
	if p.F == nil {
		return ""
	}
	return fmt.Sprintf("%g%%", *p.F*100)
}

// Set parses "N%" with N between 0 and 100.
func (p Percent) Set(s string) error {
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimSpace(s), "%"), "%g", &v); err != nil || v < 0 || v > 100 {
		return fmt.Errorf("invalid percentage %q: expecting a number from 0 to 100, e.g. '100%%'", s)
	}
	*p.F = v / 100
	return nil
}

// Weights is a flag.Value holding roles' weights as Mesos's master spells
// them: "role1=weight1,role2=weight2" (--weights). Each role must be a valid
// role other than "*" and each weight a positive number.
type Weights struct{ M *map[string]float64 }

func (w Weights) String() string {
	if w.M == nil || len(*w.M) == 0 {
		return ""
	}
	roles := make([]string, 0, len(*w.M))
	for r := range *w.M {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = fmt.Sprintf("%s=%v", r, (*w.M)[r])
	}
	return strings.Join(parts, ",")
}

// Set parses "role=weight[,role=weight...]"; nothing is kept on an error.
func (w Weights) Set(s string) error {
	out := map[string]float64{}
	for item := range strings.SplitSeq(s, ",") {
		role, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return fmt.Errorf("%q is not role=weight", item)
		}
		if err := resources.ValidateRole(role); err != nil {
			return fmt.Errorf("invalid role in %q: %w", item, err)
		}
		if role == "*" {
			return fmt.Errorf("the weight of the default role '*' cannot be set")
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return fmt.Errorf("invalid weight %q for role %q: weights must be positive numbers", val, role)
		}
		if _, dup := out[role]; dup {
			return fmt.Errorf("role %q appears more than once", role)
		}
		out[role] = f
	}
	*w.M = out
	return nil
}
