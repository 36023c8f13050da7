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
)

// masterURL turns "host:port" or a URL into the master's base URL.
func masterURL(master string) (*url.URL, error) {
	s := strings.TrimSpace(master)
	if s == "" {
		return nil, fmt.Errorf("no master address given")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("master address %q: %w", master, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("master address %q: want host:port or an http(s) URL", master)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// getJSON fetches path from the master and decodes the JSON answer into v.
// master may list several masters, comma-separated: they are asked in turn
// until one answers. Redirects from a non-leading master are followed.
func getJSON(ctx context.Context, master, path string, v any) error {
	masters := splitMasters(master)
	if len(masters) == 0 {
		return fmt.Errorf("no master address given")
	}
	var errs []error
	for _, m := range masters {
		err := getJSONFrom(ctx, m, path, v)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// getJSONFrom is getJSON from one master.
func getJSONFrom(ctx context.Context, master, path string, v any) error {
	base, err := masterURL(master)
	if err != nil {
		return err
	}
	u := base.JoinPath(path).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
		if body := strings.TrimSpace(string(b)); body != "" {
			msg += ": " + body
		}
		return fmt.Errorf("%s", msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding the answer: %w", u, err)
	}
	return nil
}
