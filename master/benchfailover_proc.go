package master

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomesos/gomesos/internal/cputime"
)

// benchMaster is one of BenchFailover's three masters, in this process or
// in its own.
type benchMaster interface {
	Advertise() string
	// leads reports whether the master leads and has recovered its
	// registry.
	leads(ctx context.Context) bool
	// activeAgents is how many agents the master has active.
	activeAgents(ctx context.Context) int
	// figures is the master's /metrics/snapshot.
	figures(ctx context.Context) (map[string]float64, error)
	// killing says how kill kills.
	killing() string
	// kill ends the master as SIGKILL would.
	kill()
	// usage is what the master's own process has used, false when it
	// shares this process.
	usage() (masterUsage, bool)
}

// masterUsage is the CPU time a master's process has used, and the
// collections its garbage collector ran and the CPU they took (from
// GODEBUG=gctrace=1).
type masterUsage struct {
	cpu   time.Duration
	gcs   int64
	gcCPU time.Duration
	// faults is the minor page faults the process has taken (-1 when
	// unknown): the pages of memory it touched for the first time.
	faults int64
}

// inProcMaster is a master running in the bench's process.
type inProcMaster struct {
	b *failoverBench
	i int
	m *Master
}

func (p *inProcMaster) Advertise() string                { return p.m.Advertise() }
func (p *inProcMaster) leads(context.Context) bool       { return p.m.Leading() }
func (p *inProcMaster) activeAgents(context.Context) int { return p.m.latest().ActiveAgents() }
func (p *inProcMaster) usage() (masterUsage, bool)       { return masterUsage{}, false }
func (p *inProcMaster) figures(context.Context) (map[string]float64, error) {
	return p.m.figures(p.m.latest()), nil
}

func (p *inProcMaster) killing() string {
	return "its HTTP server and Raft connections close, its Raft shuts down without a leadership transfer, its loop stops"
}

func (p *inProcMaster) kill() {
	b := p.b
	p.m.srv.Close()
	if b.pipes != nil {
		b.pipes[strconv.Itoa(p.i)].srv.Close()
	}
	// A killed process's connections all end at once, its Raft
	// connections too (which the HTTP server hijacked, so does not close):
	// no heartbeat goes out while Raft shuts down.
	b.layers[p.i].Close()
	if err := b.stores[p.i].Close(); err != nil {
		b.opts.Logger.Warn("closing the killed master's registry", "error", err)
	}
	b.cancels[p.i]()
}

// procMaster is a master running as its own process (`gomesos master`),
// which the bench watches over HTTP and through its log.
type procMaster struct {
	addr   string
	cmd    *exec.Cmd
	client *http.Client
	log    func(line string)
	exited chan struct{} // closed once the process is reaped
	killed atomic.Bool   // by the bench, as the leader

	gcs     atomic.Int64 // collections seen in its gctrace
	gcMicro atomic.Int64 // their CPU, in µs

	mu   sync.Mutex
	tail []string // the last lines of its log, for errors
}

func (p *procMaster) Advertise() string { return p.addr }

func (p *procMaster) get(ctx context.Context, path string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	// The body is small: read it before the deadline ends.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp, err
}

// leads asks /master/redirect: a leader that has recovered its registry
// points at itself.
func (p *procMaster) leads(ctx context.Context) bool {
	resp, err := p.get(ctx, "/master/redirect")
	return err == nil && resp.StatusCode == http.StatusTemporaryRedirect && resp.Header.Get("Location") == "//"+p.addr
}

func (p *procMaster) figures(ctx context.Context) (map[string]float64, error) {
	resp, err := p.get(ctx, "/metrics/snapshot")
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", p.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics of %s: %s", p.addr, resp.Status)
	}
	out := map[string]float64{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", p.addr, err)
	}
	return out, nil
}

func (p *procMaster) activeAgents(ctx context.Context) int {
	m, err := p.figures(ctx)
	if err != nil {
		return -1
	}
	return int(m["master/slaves_active"])
}

func (p *procMaster) killing() string {
	return fmt.Sprintf("SIGKILL to its process (pid %d)", p.cmd.Process.Pid)
}

func (p *procMaster) kill() {
	p.killed.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *procMaster) usage() (masterUsage, bool) {
	cpu, ok := cputime.OfProcess(p.cmd.Process.Pid)
	faults, known := cputime.MinorFaultsOf(p.cmd.Process.Pid)
	if !known {
		faults = -1
	}
	return masterUsage{cpu: cpu, gcs: p.gcs.Load(), gcCPU: time.Duration(p.gcMicro.Load()) * time.Microsecond, faults: faults}, ok
}

// stop asks the master to stop (SIGTERM), and kills it if it has not
// within 10s.
func (p *procMaster) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.killed.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
	}
}

// lastLines is the end of the master's log.
func (p *procMaster) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// readLog takes the master's standard error: its log, and the gctrace
// line of every collection.
func (p *procMaster) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := gctraceCPU(line); ok {
			p.gcs.Add(1)
			p.gcMicro.Add(int64(cpu / time.Microsecond))
			continue
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		p.log(line)
	}
	_, _ = io.Copy(io.Discard, r)
}

// gctraceCPU reads the CPU a collection took from its GODEBUG=gctrace=1
// line ("gc 7 @1.2s 3%: 0.01+2.1+0.02 ms clock, 0.03+0.5/4.1/0.2+0.05 ms
// cpu, ..."): the sum of the phases' CPU times (assists, background and
// idle marking included).
func gctraceCPU(line string) (time.Duration, bool) {
	if !strings.HasPrefix(line, "gc ") {
		return 0, false
	}
	end := strings.Index(line, " ms cpu")
	if end < 0 {
		return 0, false
	}
	start := strings.LastIndex(line[:end], ", ")
	if start < 0 {
		return 0, false
	}
	var ms float64
	for _, f := range strings.FieldsFunc(line[start+2:end], func(r rune) bool { return r == '+' || r == '/' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, false
		}
		ms += v
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// freeLoopbackPorts finds n ports free on 127.0.0.1 (free when looked at:
// the masters need theirs on their command line, each other's included).
func freeLoopbackPorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// mesosDuration writes d as gomesos's flags read it.
func mesosDuration(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatInt(d.Nanoseconds(), 10) + "ns"
}

// startProcesses runs the three masters as processes of MasterCommand,
// each `gomesos master --masters=...` with its own work directory, and
// waits until each answers HTTP. The masters take one Raft timeout
// (--registry_election_timeout, the heartbeat's) for the three.
func (b *failoverBench) startProcesses(ctx context.Context, dir string) error {
	addrs, err := freeLoopbackPorts(3)
	if err != nil {
		return fmt.Errorf("bench failover: %w", err)
	}
	b.addrs = addrs
	// The bench's own client, apart from the agents' connections.
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	env := os.Environ()
	godebug := "gctrace=1"
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok && v != "" {
			godebug = v + ",gctrace=1"
			env = append(env[:i:i], env[i+1:]...)
			break
		}
	}
	for i, addr := range addrs {
		_, port, _ := net.SplitHostPort(addr)
		args := []string{
			"--ip=127.0.0.1", "--port=" + port, "--masters=" + strings.Join(addrs, ","),
			"--work_dir=" + filepath.Join(dir, strconv.Itoa(i)),
			"--registry_election_timeout=" + mesosDuration(b.opts.HeartbeatTimeout),
			"--logging_level=WARNING",
			// For go tool pprof http://ADDR/debug/pprof/profile during a run.
			"--pprof",
		}
		cmd := b.opts.MasterCommand(args)
		cmd.Env = append(append(cmd.Env, env...), "GODEBUG="+godebug)
		cmd.Stdout = nil
		dieWithBench(cmd)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return fmt.Errorf("bench failover: %w", err)
		}
		p := &procMaster{addr: addr, cmd: cmd, client: client, exited: make(chan struct{}), log: func(line string) {
			b.opts.Logger.Warn("master log", "master", addr, "line", line)
		}}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("bench failover: starting a master: %w", err)
		}
		logDone := make(chan struct{})
		go func() {
			defer close(logDone)
			p.readLog(stderr)
		}()
		go func() {
			<-logDone // Wait closes the pipe: read it all first
			_ = cmd.Wait()
			close(p.exited)
		}()
		b.masters = append(b.masters, p)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	for _, m := range b.masters {
		p := m.(*procMaster)
		if err := b.waitUntil(ctx, func() bool {
			select {
			case <-p.exited:
				return true
			default:
			}
			resp, err := p.get(ctx, "/health")
			return err == nil && resp.StatusCode == http.StatusOK
		}); err != nil {
			return fmt.Errorf("bench failover: master %s: %w", p.addr, err)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("bench failover: master %s exited (%v): %s", p.addr, p.cmd.ProcessState, p.lastLines())
		default:
		}
	}
	return nil
}

// pids lists the masters' processes.
func (b *failoverBench) pids() string {
	var out []string
	for _, m := range b.masters {
		if p, ok := m.(*procMaster); ok {
			out = append(out, strconv.Itoa(p.cmd.Process.Pid))
		}
	}
	return strings.Join(out, " ")
}

// exitedMaster reports a master process that ended without the bench
// killing or stopping it.
func (b *failoverBench) exitedMaster() error {
	for _, m := range b.masters {
		if p, ok := m.(*procMaster); ok && !p.killed.Load() {
			select {
			case <-p.exited:
				return fmt.Errorf("master %s exited (%v): %s", p.addr, p.cmd.ProcessState, p.lastLines())
			default:
			}
		}
	}
	return nil
}
