package main

import (
	"bytes"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Bad command lines get an error that names the flag, and exit 2 before
// anything starts.
func TestBadFlagsNameTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"master", "--port=abc"}, "-port"},
		{[]string{"master", "--allocation_interval=fast"}, "-allocation_interval"},
		{[]string{"master", "--logging_level=LOUD"}, "--logging_level"},
		{[]string{"agent", "--work_dir=/tmp/x"}, "--master"},
		{[]string{"agent", "--master=127.0.0.1:5050"}, "--work_dir"},
		{[]string{"agent", "--master=h1:5050,zk://h2:2181/mesos", "--work_dir=/tmp/x"}, "--master: master address \"zk://h2:2181/mesos\""},
		{[]string{"agent", "--master=file:///nonexistent/masters", "--work_dir=/tmp/x"}, "--master: reading"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--fetcher_cache_size=lots"}, "-fetcher_cache_size"},
		{[]string{"local", "--num_agents=-1"}, "--num_agents"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--isolation=cgroups/cpu,filesystem/bogus"}, `--isolation: unknown isolator "filesystem/bogus"`},
		{[]string{"local", "--num_agents=1", "--isolation=bogus"}, `--isolation: unknown isolator "bogus"`},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--isolation=posix/cpu,namespaces/pid"}, "--isolation"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--default_container_info={nope"}, "--default_container_info"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", `--default_container_info={"type":"DOCKER"}`}, "--default_container_info: only a ContainerInfo of type MESOS"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--container_ports_watch_interval=0secs"}, "--container_ports_watch_interval"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--check_agent_port_range_only", "--resources=ports:[9-1]"}, "--resources"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--container_disk_watch_interval=often"}, "-container_disk_watch_interval"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--isolation=posix/disk,disk/du"}, `--isolation: using "posix/disk" and "disk/du" together`},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--isolation=cgroups/cpu,gpu/nvidia"}, "needs cgroups/devices"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--nvidia_gpu_devices=0"}, "--nvidia_gpu_devices needs --isolation to include gpu/nvidia"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--nvidia_gpu_devices=0,0"}, "--nvidia_gpu_devices: contains duplicates"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--allowed_devices={"}, "--allowed_devices"},
		{[]string{"agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/x", `--allowed_devices={"allowed_devices":[{"device":{"path":"/nonexistent"},"access":{"read":true}}]}`}, "--allowed_devices: entry 0: device /nonexistent"},
		{[]string{"execute", "--command=true"}, "--name"},
		{[]string{"execute", "--name=x", "--command=true", "--count=0"}, "--count"},
		{[]string{"execute", "--name=x", "--command=true", "--env=NOEQUALS"}, "-env"},
		{[]string{"bench", "allocator", "--agents=0"}, "--agents"},
		{[]string{"bench", "allocator", "--roles=0"}, "--roles"},
		{[]string{"bench", "state", "--tasks=0"}, "--tasks"},
		{[]string{"bench", "failover", "--agents=0"}, "--agents"},
		{[]string{"bench", "tasks", "--tasks=0"}, "--tasks"},
		{[]string{"bench", "tasks", "--tasks=few"}, "-tasks"},
		{[]string{"bench", "tasks", "--tasks=1", "--isolation=bogus"}, `unknown isolator "bogus"`},
		{[]string{"bench", "failover", "--tasks_per_agent=-1"}, "--tasks_per_agent"},
		{[]string{"bench", "failover", "--agents=many"}, "-agents"},
		{[]string{"bench", "failover", "--registry_election_timeout=0secs"}, "--registry_election_timeout"},
		{[]string{"bench", "failover", "--logging_level=LOUD"}, `--logging_level: unknown level "LOUD"`},
		{[]string{"bench", "launch", "--tasks=0"}, "--tasks"},
		{[]string{"bench", "launch", "--agents=-1"}, "--agents"},
		{[]string{"bench", "launch", "--frameworks=x"}, "-frameworks"},
		{[]string{"master", "--port=0"}, "--work_dir is required with --registry=replicated_log"},
		{[]string{"master", "--registry=zookeeper"}, `--registry: unknown registry "zookeeper"`},
		{[]string{"master", "--registry=in_memory", "--masters=127.0.0.1:5050,127.0.0.1:5051"}, "--masters: several masters need --registry=replicated_log"},
		{[]string{"master", "--work_dir=/tmp/x", "--masters=127.0.0.1:5050,nope"}, `--masters: "nope" is not host:port`},
		{[]string{"master", "--work_dir=/tmp/x", "--masters=127.0.0.1:5050,127.0.0.1:5050"}, "--masters: 127.0.0.1:5050 is listed twice"},
		{[]string{"master", "--work_dir=/tmp/x", "--masters=127.0.0.1:5050,127.0.0.1:5051,127.0.0.1:5052", "--quorum=1"}, "--quorum=1: with 3 master(s) the quorum is a majority, 2"},
		{[]string{"master", "--work_dir=/tmp/x", "--port=5060", "--masters=127.0.0.1:5050,127.0.0.1:5051"}, "--masters: none of 127.0.0.1:5050,127.0.0.1:5051 is this master"},
		{[]string{"master", "--registry=in_memory", "--agent_removal_rate_limit=often"}, "-agent_removal_rate_limit"},
		{[]string{"master", "--registry=in_memory", "--recovery_agent_removal_limit=150%"}, "-recovery_agent_removal_limit"},
		{[]string{"master", "--registry=in_memory", "--weights=eng=0"}, "-weights"},
		{[]string{"master", "--registry=in_memory", "--weights=eng"}, "-weights"},
		{[]string{"master", "--registry=in_memory", "--weights=a b=2"}, "-weights"},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"agents", "--json=maybe"}, "-json"},
		{[]string{"agents", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"tasks", "--master=zk://h:2181/mesos"}, `--master: master address "zk://h:2181/mesos"`},
		{[]string{"drain"}, "expecting AGENT_ID"},
		{[]string{"drain", "a1", "a2"}, `unexpected arguments ["a2"]`},
		{[]string{"drain", "a1", "--max-grace-period=soon"}, "-max-grace-period"},
		{[]string{"deactivate"}, "expecting AGENT_ID"},
		{[]string{"mark-gone"}, "expecting AGENT_ID"},
		{[]string{"teardown"}, "expecting FRAMEWORK_ID"},
		{[]string{"weights", "set"}, "expecting ROLE=WEIGHT"},
		{[]string{"weights", "set", "dev=heavy"}, `"dev=heavy": the weight must be a positive number`},
		{[]string{"maintenance", "schedule"}, "--file is required"},
		{[]string{"maintenance", "schedule", "--file=/nonexistent/schedule.json"}, "--file: open /nonexistent/schedule.json"},
		{[]string{"maintenance", "down"}, "expecting machines"},
		{[]string{"task"}, "gomesos task log TASK_ID"},
		{[]string{"task", "log"}, "expecting TASK_ID"},
		{[]string{"task", "log", "t1", "--follow=often"}, "-follow"},
		{[]string{"watch", "--reconnect=later"}, "-reconnect"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("gomesos %s: exit %d, stderr %q; want exit 2 and a message naming %s", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// Every subcommand's --help lists its flags with their defaults.
func TestHelpListsFlagsWithDefaults(t *testing.T) {
	want := map[string][]string{
		"master": {"--port=VALUE", "(default: 5050)", "--allocation_interval", "(default: 1secs)", "--agent_ping_timeout", "(default: 15secs)", "--max_agent_ping_timeouts", "MESOS_<FLAG>",
			"--registry=VALUE", "(default: replicated_log)", "--work_dir", "--masters", "--quorum", "--registry_store_timeout", "(default: 20secs)",
			"--registry_fetch_timeout", "(default: 1mins)", "--agent_reregister_timeout", "(default: 10mins)", "--agent_removal_rate_limit",
			"--recovery_agent_removal_limit", "(default: 100%)", "--registry_election_timeout", "(default: 300ms)"},
		"agent": {"--master=VALUE", "--work_dir", "--resources", "--attributes", "(default: 5051)",
			"--fetcher_cache_size", "(default: 2GB)", "--fetcher_cache_dir", "(default: /tmp/mesos/fetch)", "--fetcher_stall_timeout",
			"--isolation", "--cgroups_root=VALUE", "(default: mesos)", "--cgroups_enable_cfs",
			"--default_container_info", "--disallow_sharing_agent_pid_namespace", "--container_ports_watch_interval", "(default: 30secs)",
			"--enforce_container_ports", "--check_agent_port_range_only", "--allowed_devices", "--nvidia_gpu_devices",
			"--container_disk_watch_interval", "(default: 15secs)", "--enforce_container_disk_quota"},
		"local":      {"--num_agents", "(default: 1)", "--work_dir", "--ip"},
		"execute":    {"--master", "--name", "--command", "--resources", "--count"},
		"agents":     {"--master"},
		"frameworks": {"--master"},
		"tasks":      {"--master", "--json"},
		"roles":      {"--master", "--json"},
		"drain":      {"--master", "--max-grace-period", "--mark-gone"},
		"teardown":   {"--master"},
		"watch":      {"--master", "--json", "--reconnect"},
		"task":       {"gomesos task log TASK_ID"},
	}
	for cmd, words := range want {
		code, _, stderr := runCLI(cmd, "--help")
		if code != 0 {
			t.Errorf("gomesos %s --help exited %d", cmd, code)
		}
		for _, w := range words {
			if !strings.Contains(stderr, w) {
				t.Errorf("gomesos %s --help lacks %q:\n%s", cmd, w, stderr)
			}
		}
	}
	code, stdout, _ := runCLI("help")
	if code != 0 || !strings.Contains(stdout, "local") || !strings.Contains(stdout, "execute") {
		t.Errorf("gomesos help: exit %d, %q", code, stdout)
	}
}

// MESOS_<FLAG> environment variables set flags; bad values name the
// variable.
func TestEnvironmentVariablesSetFlags(t *testing.T) {
	t.Setenv("MESOS_PORT", "not-a-port")
	code, _, stderr := runCLI("master")
	if code != 2 || !strings.Contains(stderr, "MESOS_PORT") {
		t.Errorf("MESOS_PORT=not-a-port: exit %d, stderr %q; want 2 naming MESOS_PORT", code, stderr)
	}
}

// `gomesos bench allocator` runs Mesos's DeclineOffers allocator benchmark
// and prints its cycle times, then times full passes and ends with the
// allocation pass line.
func TestBenchAllocatorPrintsCycleTimes(t *testing.T) {
	passLine := regexp.MustCompile(`^allocation pass p50=[0-9]+\.[0-9]+ms p99=[0-9]+\.[0-9]+ms agents=50 frameworks=2$`)
	for _, args := range [][]string{
		{"--agents=50", "--frameworks=2"},
		{"--agents=50", "--frameworks=2", "--roles=3"},
	} {
		code, stdout, stderr := runCLI(append([]string{"bench", "allocator"}, args...)...)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if code != 0 || !strings.Contains(stdout, "allocator: 50 agents, 2 frameworks") || !strings.Contains(stdout, "p99") ||
			!passLine.MatchString(lines[len(lines)-1]) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// `gomesos bench state` reads /master/state of a simulated cluster under
// load and prints the readers' latencies and what the loop sustained.
func TestBenchStatePrintsLatencies(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "state", "--agents=20", "--tasks=100", "--readers=2", "--duration=300ms", "--update_rate=100")
	if code != 0 || !strings.Contains(stdout, "state: 20 agents, 100 tasks, 2 readers") || !strings.Contains(stdout, "p99") ||
		!strings.Contains(stdout, "loop with readers") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// `gomesos bench launch` runs short tasks through a real master and ends
// with the launch line: tasks, agents, seconds, rate and the master's RSS.
func TestBenchLaunchPrintsLaunchLine(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50")
	last := regexp.MustCompile(`(?m)^launched 50 tasks on 5 agents in \d+\.\d{3}s \((\d+) tasks/s\), master rss (\d+\.\d) MiB\n\z`)
	got := last.FindStringSubmatch(stdout)
	if code != 0 || got == nil || !strings.Contains(stdout, "5 agents registered") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got[1] == "0" || got[2] == "0.0" {
		t.Errorf("rate %s tasks/s, rss %s MiB; want both above zero", got[1], got[2])
	}
}

// A bad --timeout of `gomesos bench launch` is refused, the flag named,
// before anything starts.
func TestBenchLaunchRejectsBadTimeout(t *testing.T) {
	for _, arg := range []string{"--timeout=0s", "--timeout=-1m", "--timeout=soon"} {
		code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50", arg)
		if code != 2 || !strings.Contains(stderr, "timeout") || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming --timeout", arg, code, stdout, stderr)
		}
	}
}

// `gomesos bench launch --memory_limit --gogc` set the master process's
// garbage collector and say so; bad values are refused, the flag named.
func TestBenchLaunchSetsGarbageCollector(t *testing.T) {
	prevPct, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(prevPct)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLimit) })
	code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50", "--memory_limit=4GB", "--gogc=400")
	if code != 0 || !strings.Contains(stdout, "master's garbage collector: GOGC=400, memory limit 4096.0 MiB") ||
		!strings.Contains(stdout, "agents and frameworks in a child process") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// By default, as a master, an adaptive limit; or one at a given ratio.
	for _, tc := range []struct{ arg, want string }{
		{"--memory_limit=auto", "memory limit adaptive (1.6 x the peak live heap, at least 64 MiB over it)"},
		{"--memory_limit=1.75x", "memory limit adaptive (1.75 x the peak live heap, at least 64 MiB over it)"},
		{"--memory_limit=none", ", memory limit none"},
	} {
		code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50", tc.arg)
		if code != 0 || !strings.Contains(stdout, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tc.arg, code, stdout, stderr, tc.want)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50")
		if code != 0 || !strings.Contains(stdout, "memory limit adaptive (1.6 x") {
			t.Errorf("no --memory_limit: exit %d, stdout %q, stderr %q; want the adaptive limit", code, stdout, stderr)
		}
	}
	for _, tc := range []struct{ arg, flag string }{
		{"--memory_limit=0", "memory_limit"}, {"--memory_limit=lots", "memory_limit"}, {"--gogc=-5", "gogc"},
		{"--memory_limit=1x", "memory_limit"}, {"--memory_limit=0.5x", "memory_limit"}, {"--memory_limit=x", "memory_limit"},
	} {
		code, stdout, stderr := runCLI("bench", "launch", "--agents=5", "--tasks=50", tc.arg)
		if code != 2 || !strings.Contains(stderr, tc.flag) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming --%s", tc.arg, code, stdout, stderr, tc.flag)
		}
	}
	code, stdout, stderr = runCLI("master", "--memory_limit=12 apples", "--registry=in_memory")
	if code != 2 || !strings.Contains(stderr, "memory_limit") {
		t.Errorf("master --memory_limit=12 apples: exit %d, stdout %q, stderr %q; want exit 2 naming the flag", code, stdout, stderr)
	}
}

// `gomesos bench failover` kills the leader of three masters and ends with
// the failover line: seconds to a new leader, to every agent back, to
// offers flowing again. By default the masters are three `gomesos master`
// processes (this test binary, run as gomesos), the leader killed with
// SIGKILL, and the CPU of each survivor's process is reported; with
// --masters_in_process they share the bench's process.
func TestBenchFailoverPrintsFailoverLine(t *testing.T) {
	t.Setenv(runAsGomesos, "1") // for the masters this process starts
	last := regexp.MustCompile(`(?m)^failover agents=20 elected=\d+\.\d{3}s reregistered=\d+\.\d{3}s offers=\d+\.\d{3}s\n\z`)
	for _, tc := range []struct {
		flag  string
		wants []string
	}{
		{"", []string{"in their own processes (pids ", "SIGKILL to its process (pid ", "the new leader 127.0.0.1:"}},
		{"--masters_in_process", []string{"in this process", "its Raft shuts down without a leadership transfer"}},
	} {
		args := []string{"bench", "failover", "--agents=20", "--tasks_per_agent=2", "--registry_election_timeout=1secs"}
		if tc.flag != "" {
			args = append(args, tc.flag)
		}
		code, stdout, stderr := runCLI(args...)
		ok := code == 0 && last.MatchString(stdout) && strings.Contains(stdout, "20 agents registered") && strings.Contains(stdout, "40 tasks running") &&
			strings.Contains(stdout, "raft heartbeat 1s, election 1s, leader lease 1s")
		for _, w := range tc.wants {
			ok = ok && strings.Contains(stdout, w)
		}
		if !ok {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.flag, code, stdout, stderr)
		}
	}
}

// `gomesos bench tasks` launches real command tasks on a local cluster
// and ends with the tasks line an outside check reads; no process of the
// run is left (TestBenchTasksLeavesNoProcess in internal/benchtasks checks
// that closer).
func TestBenchTasksPrintsTasksLine(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "tasks", "--tasks=3")
	last := regexp.MustCompile(`(?m)^tasks 3 running in \d+\.\d+s \(\d+\.\d+/s\); bare fork/exec \d+\.\d+s; ratio \d+\.\d+; -?\d+\.\d+ MiB per task; stop \d+\.\d+s\n\z`)
	if code != 0 || !last.MatchString(stdout) || !strings.Contains(stdout, "isolation posix/cpu,posix/mem; bare fork/exec of 3") ||
		!strings.Contains(stdout, "cpu ratio") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// `gomesos bench tasks --latency=K` launches K single tasks one after
// another and ends with their latency line; a negative K is refused,
// naming the flag.
func TestBenchTasksLatencyPrintsLatencyLine(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "tasks", "--latency=2")
	last := regexp.MustCompile(`(?m)^latency 2 single tasks accept-to-running p50=\d+\.\dms p99=\d+\.\dms max=\d+\.\dms \(to starting p50=\d+\.\dms\); bare fork/exec p50=\d+\.\d+ms; load \S+\n\z`)
	if code != 0 || !last.MatchString(stdout) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI("bench", "tasks", "--latency=-1")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "--latency") {
		t.Errorf("--latency=-1: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
