package batch

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Submission is one run of a built-in job as its own application: what
// `gomesos batch submit` does.
type Submission struct {
	Config
	// Job is a built-in job (see Jobs); Input and Output are directories
	// every agent sees.
	Job, Input, Output string
	JobOptions
}

// Submit starts an App, runs the job, prints progress to w (stages and
// tasks done out of total, executors coming and going) and tears the
// framework down, whatever happened. It returns nil once the output is
// complete.
func Submit(ctx context.Context, s Submission, w io.Writer) error {
	p := &progressPrinter{w: w, start: time.Now(), last: map[int]int{}, local: map[int]int{}, away: map[int]int{}}
	user := s.Config.Progress
	s.Config.Progress = func(ev Event) {
		p.print(ev)
		if user != nil {
			user(ev)
		}
	}
	a, err := Start(ctx, s.Config)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "framework %s registered; driver page %s\n", a.FrameworkID(), a.WebURL())
	jobErr := RunBuiltin(ctx, a, s.Job, s.Input, s.Output, s.JobOptions)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	stopErr := a.Stop(stopCtx)
	if jobErr != nil {
		return jobErr
	}
	if stopErr != nil {
		return stopErr
	}
	fmt.Fprintf(w, "%s finished in %.1fs: output in %s\n", s.Job, time.Since(p.start).Seconds(), s.Output)
	return nil
}

// progressPrinter writes a line when a stage starts and ends, at every
// tenth of its tasks, and for executor events.
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  map[int]int // stage -> tenths printed
	// local and away count, by stage, the tasks that ran where they
	// preferred and those that ran elsewhere.
	local, away map[int]int
}

func (p *progressPrinter) print(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := fmt.Sprintf("[%6.1fs]", time.Since(p.start).Seconds())
	switch ev.Kind {
	case StageStarted:
		fmt.Fprintf(p.w, "%s stage %d (%s): %d/%d tasks\n", at, ev.Stage, ev.StageName, ev.Done, ev.Total)
	case TaskEnded:
		switch ev.Locality {
		case "local":
			p.local[ev.Stage]++
		case "any":
			p.away[ev.Stage]++
		}
		tenth := ev.Done * 10 / max(ev.Total, 1)
		if tenth > p.last[ev.Stage] && ev.Done < ev.Total {
			p.last[ev.Stage] = tenth
			fmt.Fprintf(p.w, "%s stage %d (%s): %d/%d tasks\n", at, ev.Stage, ev.StageName, ev.Done, ev.Total)
		}
	case StageEnded:
		p.last[ev.Stage] = 0
		if ev.Err != nil {
			fmt.Fprintf(p.w, "%s stage %d (%s) failed: %v\n", at, ev.Stage, ev.StageName, ev.Err)
		} else if l, o := p.local[ev.Stage], p.away[ev.Stage]; l+o > 0 {
			fmt.Fprintf(p.w, "%s stage %d (%s): done, %d/%d tasks, %d of them where their input is, %d elsewhere\n", at, ev.Stage, ev.StageName, ev.Done, ev.Total, l, o)
		} else {
			fmt.Fprintf(p.w, "%s stage %d (%s): done, %d/%d tasks\n", at, ev.Stage, ev.StageName, ev.Done, ev.Total)
		}
	case ExecutorAdded:
		fmt.Fprintf(p.w, "%s executor %s up on agent %s\n", at, ev.Executor, ev.Agent)
	case ExecutorLost:
		fmt.Fprintf(p.w, "%s executor %s lost: %v\n", at, ev.Executor, ev.Err)
	case ExecutorReleased:
		fmt.Fprintf(p.w, "%s executor %s released: %v\n", at, ev.Executor, ev.Err)
	case JobEnded:
		if ev.Err != nil {
			fmt.Fprintf(p.w, "%s job %d (%s) failed: %v\n", at, ev.Job, ev.StageName, ev.Err)
		}
	}
}
