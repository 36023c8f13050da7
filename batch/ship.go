package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// How the executor binary reaches the agents (Config.ShipExecutor).
const (
	// ShipRemote ships it to agents on other machines, through the
	// fetcher, and runs ExecutorCommand itself on this machine's.
	ShipRemote = "remote"
	// ShipAlways ships it to every agent.
	ShipAlways = "always"
	// ShipNever never ships it: every agent runs ExecutorCommand (a bare
	// name is looked up on the agent's PATH).
	ShipNever = "never"
)

// shippedName is the executor binary's name in the sandbox.
const shippedName = "gomesos-batch-executor"

// shipper serves the executor binary on the driver's web page for the
// agents' fetchers, at a path naming its content, so that an agent's fetcher
// cache never serves an older binary for it. The content is hashed the
// first time an executor is shipped.
type shipper struct {
	path   string // the binary
	webURL string

	once sync.Once
	err  error
	url  string // where the agents fetch it
	sum  string
}

func newShipper(path, webURL string) (*shipper, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("batch: the executor binary to ship: %w", err)
	}
	return &shipper{path: path, webURL: webURL}, nil
}

// ready hashes the binary, once.
func (s *shipper) ready() error {
	s.once.Do(func() {
		f, err := os.Open(s.path)
		if err != nil {
			s.err = fmt.Errorf("batch: the executor binary to ship: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			s.err = fmt.Errorf("batch: reading the executor binary to ship: %w", err)
			return
		}
		s.sum = hex.EncodeToString(h.Sum(nil))[:16]
		s.url = s.webURL + "/executor/" + s.sum + "/" + shippedName
	})
	return s.err
}

// serve answers GET /executor/{sum}/{name}.
func (s *shipper) serve(w http.ResponseWriter, r *http.Request) {
	if s == nil || s.ready() != nil || r.PathValue("sum") != s.sum || r.PathValue("name") != shippedName {
		http.Error(w, "batch driver: no such executor binary", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeFile(w, r, s.path)
}

// ships reports whether the executor for an agent at host is shipped.
func (a *App) ships(host string) bool {
	if a.ship == nil || (a.cfg.ShipExecutor != ShipAlways && isThisMachine(host)) {
		return false
	}
	if err := a.ship.ready(); err != nil {
		a.log.Warn("not shipping the executor binary", "err", err)
		return false
	}
	return true
}

// command is the CommandInfo of an executor (or shuffle service) on an
// agent at host, with env.
func (a *App) command(host string, vars []*mesos.Environment_Variable) *mesos.CommandInfo {
	if a.ships(host) {
		return &mesos.CommandInfo{
			// The fetcher puts it in the sandbox, the executor's working
			// directory.
			Value: proto.String(`exec "$MESOS_SANDBOX/` + shippedName + `"`),
			Shell: proto.Bool(true),
			Uris: []*mesos.CommandInfo_URI{{
				Value: proto.String(a.ship.url), Executable: proto.Bool(true), Cache: proto.Bool(true),
				OutputFile: proto.String(shippedName),
			}},
			Environment: &mesos.Environment{Variables: vars},
		}
	}
	return &mesos.CommandInfo{
		Value:       proto.String(a.cfg.ExecutorCommand),
		Shell:       proto.Bool(false),
		Arguments:   []string{a.cfg.ExecutorCommand},
		Environment: &mesos.Environment{Variables: vars},
	}
}

var (
	localOnce  sync.Once
	localNames map[string]bool
)

// isThisMachine reports whether host (a name or an address) is this
// machine: loopback, its hostname, or one of its interfaces' addresses.
func isThisMachine(host string) bool {
	localOnce.Do(func() {
		localNames = map[string]bool{"localhost": true}
		if h, err := os.Hostname(); err == nil {
			localNames[strings.ToLower(h)] = true
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					localNames[ipn.IP.String()] = true
				}
			}
		}
	})
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || localNames[ip.String()]
	}
	return localNames[host]
}
