package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// masterFilePrefix starts a --master that names a file holding the
// master's address (or list), as Mesos's agent accepts.
const masterFilePrefix = "file://"

// ResolveMasters turns --master (Config.Master) into the masters' "host:port" addresses,
// in the order given. The flag is one address, a comma-separated list of
// them ("h1:5050,h2:5050,h3:5050", each "host:port" with or without
// "http://"), or "file:///path/to/file" whose content is such an address or
// list (commas or white space between the entries). A file is read anew at
// every call: the link calls again on each new round over the masters.
func ResolveMasters(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("no master given")
	}
	if path, ok := strings.CutPrefix(spec, masterFilePrefix); ok {
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("master file %q: expecting file:///absolute/path", spec)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the master's address: %w", err)
		}
		list, err := parseMasterList(strings.Join(strings.Fields(string(b)), ","))
		if err != nil {
			return nil, fmt.Errorf("master file %s: %w", path, err)
		}
		return list, nil
	}
	return parseMasterList(spec)
}

// parseMasterList parses a comma-separated list of master addresses.
func parseMasterList(s string) ([]string, error) {
	var out []string
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		addr, err := checkMasterAddr(entry)
		if err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no master address in %q", s)
	}
	return out, nil
}

// checkMasterAddr checks one master address and returns it as "host:port".
func checkMasterAddr(entry string) (string, error) {
	host := entry
	if strings.Contains(entry, "://") {
		u, err := url.Parse(entry)
		if err != nil {
			return "", fmt.Errorf("master address %q: %w", entry, err)
		}
		switch u.Scheme {
		case "http":
		case "zk":
			return "", fmt.Errorf("master address %q: ZooKeeper is not used by Gomesos; list the masters (host:port,host:port,...)", entry)
		default:
			return "", fmt.Errorf("master address %q: unsupported scheme %q (expecting host:port or http://host:port)", entry, u.Scheme)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("master address %q: expecting http://host:port and nothing more", entry)
		}
		host = u.Host
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		return "", fmt.Errorf("master address %q: expecting host:port: %w", entry, err)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
		return "", fmt.Errorf("master address %q: expecting host:port with a port in 1-65535", entry)
	}
	return net.JoinHostPort(h, p), nil
}
