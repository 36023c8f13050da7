package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/gomesos/gomesos/operator"
)

// explanation is the part of GET /master/explain's answer the command
// prints.
type explanation struct {
	FrameworkID string   `json:"framework_id"`
	Name        string   `json:"name"`
	Active      bool     `json:"active"`
	Connected   bool     `json:"connected"`
	Roles       []string `json:"roles"`
	Reasons     []string `json:"reasons"`
	PerRole     []struct {
		Role       string  `json:"role"`
		Suppressed bool    `json:"suppressed"`
		Offerable  bool    `json:"offerable"`
		Share      float64 `json:"dominant_share"`
		Weight     float64 `json:"weight"`
		RoleShare  float64 `json:"role_dominant_share"`
		Filters    []any   `json:"decline_filters"`
		Ruled      []any   `json:"agents_ruled_out_by_constraints"`
		TooSmall   []any   `json:"agents_below_min_allocatable"`
	} `json:"per_role"`
}

// Explain prints why a framework is or is not being offered resources:
// GET /master/explain on the masters of c in turn (a follower redirects to
// the leader).
func Explain(ctx context.Context, c *operator.Client, frameworkID string, w io.Writer) error {
	var errs []error
	for _, m := range c.Masters() {
		ex, err := getExplanation(ctx, m, frameworkID)
		if err == nil {
			printExplanation(ex, w)
			return nil
		}
		var hErr *httpError
		if errors.As(err, &hErr) && hErr.status != http.StatusServiceUnavailable {
			return err // the leader answered: unknown framework, bad request
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func getExplanation(ctx context.Context, master, frameworkID string) (*explanation, error) {
	u := master + "/master/explain?framework_id=" + url.QueryEscape(frameworkID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
		if body := strings.TrimSpace(string(b)); body != "" {
			msg += ": " + body
		}
		return nil, &httpError{status: resp.StatusCode, msg: msg}
	}
	var ex explanation
	if err := json.NewDecoder(resp.Body).Decode(&ex); err != nil {
		return nil, fmt.Errorf("GET %s: decoding: %w", u, err)
	}
	return &ex, nil
}

func printExplanation(ex *explanation, w io.Writer) {
	state := "active"
	switch {
	case !ex.Connected:
		state = "disconnected"
	case !ex.Active:
		state = "inactive"
	}
	fmt.Fprintf(w, "Framework %s (%s), %s, roles %s\n", ex.FrameworkID, ex.Name, state, strings.Join(ex.Roles, ","))
	if len(ex.PerRole) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ROLE\tOFFERABLE\tSUPPRESSED\tSHARE\tWEIGHT\tROLE SHARE\tFILTERS\tRULED OUT\tTOO SMALL")
		for _, r := range ex.PerRole {
			fmt.Fprintf(tw, "%s\t%v\t%v\t%.4g\t%g\t%.4g\t%d\t%d\t%d\n", r.Role, r.Offerable, r.Suppressed, r.Share, r.Weight, r.RoleShare, len(r.Filters), len(r.Ruled), len(r.TooSmall))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if len(ex.Reasons) == 0 {
		fmt.Fprintln(w, "Nothing holds its offers back.")
		return
	}
	fmt.Fprintln(w, "Why it may not be offered resources:")
	for _, r := range ex.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
}
