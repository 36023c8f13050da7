package scheduler

import (
	"fmt"
	"net/url"
	"strings"
)

// apiPath is the scheduler endpoint on a master.
const apiPath = "/api/v1/scheduler"

// endpointURL turns a master address, "host:port" or a URL such as
// "http://host:5050" (any path is replaced), into the scheduler endpoint URL.
func endpointURL(master string) (*url.URL, error) {
	s := strings.TrimSpace(master)
	if s == "" {
		return nil, fmt.Errorf("scheduler: empty master address")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("scheduler: master address %q: %w", master, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheduler: master address %q: unsupported scheme %q", master, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("scheduler: master address %q has no host", master)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: apiPath}, nil
}

// resolveRedirect resolves a 307 Location against the request URL. Mesos
// sends a protocol-relative "//host:port/api/v1/scheduler"; its docs show a
// bare "host:port", which is accepted too. A Location without a path keeps the
// scheduler endpoint path.
func resolveRedirect(from *url.URL, location string) (*url.URL, error) {
	loc := strings.TrimSpace(location)
	if loc == "" {
		return nil, fmt.Errorf("scheduler: redirect from %s without a Location", from)
	}
	if !strings.HasPrefix(loc, "/") && !strings.Contains(loc, "://") {
		loc = "//" + loc
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("scheduler: redirect from %s to %q: %w", from, location, err)
	}
	u := from.ResolveReference(ref)
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("scheduler: redirect from %s to unusable location %q", from, location)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = apiPath
	}
	return u, nil
}
