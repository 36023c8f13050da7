package batch

import (
	"html/template"
	"net/http"
	"time"
)

// webState is what the driver's page shows, also served as JSON at /state.
type webState struct {
	Name        string           `json:"name"`
	FrameworkID string           `json:"framework_id"`
	Jobs        []webJob         `json:"jobs"`
	Stages      []webStage       `json:"stages"`
	Executors   []ExecutorStatus `json:"executors"`
	Pending     int              `json:"pending_tasks"`
	Running     int              `json:"running_tasks"`
}

type webJob struct {
	ID       int     `json:"id"`
	Name     string  `json:"name"`
	State    string  `json:"state"`
	Error    string  `json:"error,omitempty"`
	Stages   []int   `json:"stages"`
	Duration float64 `json:"duration_secs"`
}

type webStage struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Done     int    `json:"tasks_done"`
	Total    int    `json:"tasks_total"`
	Launched int    `json:"task_attempts"`
}

func (a *App) snapshot() webState {
	execs := a.Executors()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := webState{Name: a.cfg.Name, FrameworkID: a.frameworkID, Executors: execs, Pending: len(a.pending), Running: a.running}
	for _, j := range a.jobs {
		end := j.ended
		if end.IsZero() {
			end = time.Now()
		}
		s.Jobs = append(s.Jobs, webJob{ID: j.id, Name: j.name, State: j.state, Error: j.err, Stages: append([]int(nil), j.stages...), Duration: end.Sub(j.started).Seconds()})
	}
	for _, st := range a.stages {
		if st.state == "waiting" && st.launched == 0 {
			continue
		}
		s.Stages = append(s.Stages, webStage{ID: st.id, Name: st.name, State: st.state, Done: st.done, Total: st.parts, Launched: st.launched})
	}
	return s
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Name}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head><body>
<h1>{{.Name}}</h1>
<p>Framework {{.FrameworkID}}: {{.Running}} task(s) running, {{.Pending}} waiting. <a href="state">JSON</a></p>
<h2>Jobs</h2>
<table><tr><th>id</th><th>job</th><th>state</th><th>stages</th><th>seconds</th></tr>
{{range .Jobs}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.State}} {{.Error}}</td><td>{{.Stages}}</td><td>{{printf "%.1f" .Duration}}</td></tr>
{{end}}</table>
<h2>Stages</h2>
<table><tr><th>id</th><th>stage</th><th>state</th><th>tasks</th><th>attempts</th></tr>
{{range .Stages}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.State}}</td><td>{{.Done}}/{{.Total}}</td><td>{{.Launched}}</td></tr>
{{end}}</table>
<h2>Executors</h2>
<table><tr><th>id</th><th>agent</th><th>host</th><th>address</th><th>tasks done</th><th>state</th></tr>
{{range .Executors}}<tr><td>{{.ID}}</td><td>{{.AgentID}}</td><td>{{.Host}}</td><td>{{.Addr}}</td><td>{{.TasksDone}}</td><td>{{if .Lost}}lost{{else if .Addr}}running{{else}}starting{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// webHandler serves the driver's page (its webui_url): jobs, stages,
// executors; and the same as JSON at /state.
func (a *App) webHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, a.snapshot())
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.snapshot())
	})
	// The executor binary, for the agents' fetchers (Config.ShipExecutor).
	mux.HandleFunc("GET /executor/{sum}/{name}", a.ship.serve)
	return mux
}
