package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor"
)

// ExecutorEnv is the environment variable that makes a binary calling
// MainIfExecutor a batch executor. The driver sets it in the ExecutorInfo.
const ExecutorEnv = "GOMESOS_BATCH_EXECUTOR"

// MainIfExecutor makes the process a batch executor, and exits when it is
// done, if it was started with ExecutorEnv set; otherwise it returns at once.
// Call it first thing in main (cmd/gomesos does), and in TestMain of tests
// that run the driver with the test binary as the executor.
func MainIfExecutor() {
	if os.Getenv(ExecutorEnv) == "" {
		return
	}
	os.Exit(runExecutor())
}

// executorHello is the data of the executor task's TASK_RUNNING update: how
// the driver reaches this executor.
type executorHello struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
	Dir  string `json:"dir"`
}

func runExecutor() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "batch-executor")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := executor.ConfigFromEnv()
	if err != nil {
		log.Error("reading the executor environment", "err", err)
		return 1
	}
	host, _, err := net.SplitHostPort(cfg.AgentEndpoint)
	if err != nil {
		log.Error("MESOS_AGENT_ENDPOINT", "err", err)
		return 1
	}
	// Serve on the agent's address: the driver reaches the executor where
	// it reaches the agent.
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		log.Error("listening", "err", err)
		return 1
	}
	dir := cfg.Sandbox
	if dir == "" {
		dir, _ = os.Getwd()
	}
	w := newWorker(cfg.ExecutorID, ln.Addr().String(), dir)
	handler := w.handler()
	if os.Getenv(ShuffleServiceEnv) != "" {
		handler = (&shuffleService{dirs: map[string]string{}}).handler()
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := executor.New(cfg, executor.WithLogger(log))
	hello, _ := json.Marshal(executorHello{Addr: w.addr, PID: os.Getpid(), Dir: dir})
	var taskID *mesos.TaskID
	err = c.Run(ctx, executor.HandlerFunc(func(ctx context.Context, ev *execpb.Event) error {
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			task := ev.GetLaunch().GetTask()
			taskID = task.GetTaskId()
			log.Info("executor task launched", "task", task.GetTaskId().GetValue(), "addr", w.addr)
			return c.Update(ctx, &mesos.TaskStatus{TaskId: task.GetTaskId(), State: mesos.TaskState_TASK_RUNNING.Enum(), Data: hello})
		case execpb.Event_MESSAGE:
			// A new driver of the framework (a failover) asks where this
			// executor is: the same TASK_RUNNING again.
			var msg struct {
				Reregister bool `json:"reregister"`
			}
			if json.Unmarshal(ev.GetMessage().GetData(), &msg) == nil && msg.Reregister && taskID != nil {
				log.Info("registering with a new driver", "task", taskID.GetValue())
				return c.Update(ctx, &mesos.TaskStatus{TaskId: taskID, State: mesos.TaskState_TASK_RUNNING.Enum(), Data: hello})
			}
		case execpb.Event_KILL:
			// The executor task is the executor: killing it ends both.
			err := c.Update(ctx, &mesos.TaskStatus{TaskId: ev.GetKill().GetTaskId(), State: mesos.TaskState_TASK_KILLED.Enum()})
			cancel()
			return err
		case execpb.Event_SHUTDOWN:
			cancel()
		}
		return nil
	}))
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("executor", "err", err)
		return 1
	}
	return 0
}

// handler is the executor's HTTP API for its driver:
//
//	POST /task                 run a TaskSpec, answer its TaskResult
//	GET  /shuffle/{s}/{m}/{r}  one block of a map output
//	GET  /cache                the cached partitions, dataset id -> partitions
//	GET  /ping                 "ok": the driver's liveness probe
func (w *worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", func(rw http.ResponseWriter, r *http.Request) {
		var spec TaskSpec
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			http.Error(rw, "batch executor: bad task: "+err.Error(), http.StatusBadRequest)
			return
		}
		res := w.run(r.Context(), spec)
		writeJSON(rw, res)
	})
	mux.HandleFunc("GET /shuffle/{s}/{m}/{r}", func(rw http.ResponseWriter, r *http.Request) {
		var n [3]int
		for i, name := range []string{"s", "m", "r"} {
			v, err := strconv.Atoi(r.PathValue(name))
			if err != nil || v < 0 {
				http.Error(rw, fmt.Sprintf("batch executor: %s must be a non-negative integer, not %q", name, r.PathValue(name)), http.StatusBadRequest)
				return
			}
			n[i] = v
		}
		f, err := os.Open(w.blockPath(n[0], n[1], n[2]))
		if err != nil {
			http.Error(rw, fmt.Sprintf("batch executor: no block for shuffle %d map %d partition %d", n[0], n[1], n[2]), http.StatusNotFound)
			return
		}
		defer f.Close()
		rw.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(rw, r, "", time.Time{}, f)
	})
	mux.HandleFunc("GET /ping", func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /cache", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.cachedPartitions())
	})
	return mux
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(rw).Encode(v); err != nil {
		slog.Debug("batch: writing a response", "err", err)
	}
}
