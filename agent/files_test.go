package agent

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// /files serves attached sandboxes under their real path and under
// /frameworks/<fw>/executors/<ex>/runs/latest, and nothing outside them.
func TestFilesEndpoints(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("files", agentID,
		`mkdir sub && printf 0123456789 > sub/f && ln -s /etc/passwd escape && ln -s sub/f inside && echo out`)))
	fm.ackUntilTerminal("files")
	latest := "/frameworks/fw-1/executors/files/runs/latest"
	var real string
	eventually(t, "the completed executor", func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		if len(st.CompletedFrameworks) == 1 && len(st.CompletedFrameworks[0].CompletedExecutors) == 1 {
			real = st.CompletedFrameworks[0].CompletedExecutors[0].Directory
			return true
		}
		return false
	})

	q := func(endpoint, path string, extra ...string) string {
		s := endpoint + "?path=" + url.QueryEscape(path)
		for _, e := range extra {
			s += "&" + e
		}
		return s
	}

	var entries []struct {
		Path string
		Mode string
		Size int64
		UID  string
	}
	for _, root := range []string{latest, real} {
		if code := getJSON(t, a, q("/files/browse", root), &entries); code != 200 {
			t.Fatalf("browse %s: %d", root, code)
		}
		modes := map[string]string{}
		for _, e := range entries {
			modes[strings.TrimPrefix(e.Path, root+"/")] = e.Mode
		}
		for name, prefix := range map[string]string{"stdout": "-rw", "stderr": "-rw", "sub": "d", "escape": "l", "inside": "l"} {
			if !strings.HasPrefix(modes[name], prefix) {
				t.Errorf("browse %s: %s has mode %q (entries %v)", root, name, modes[name], entries)
			}
		}
	}

	type readResult struct {
		Offset int64
		Data   string
	}
	reads := []struct {
		path   string
		params []string
		code   int
		want   readResult
	}{
		{latest + "/sub/f", []string{"offset=-1"}, 200, readResult{10, ""}},
		{latest + "/sub/f", nil, 200, readResult{10, ""}},
		{latest + "/sub/f", []string{"offset=2", "length=3"}, 200, readResult{2, "234"}},
		{latest + "/sub/f", []string{"offset=4"}, 200, readResult{4, "456789"}},
		{latest + "/sub/f", []string{"offset=40"}, 200, readResult{40, ""}},
		{real + "/stdout", []string{"offset=0"}, 200, readResult{0, "out\n"}},
		{latest + "/inside", []string{"offset=0"}, 200, readResult{0, "0123456789"}},
		{latest + "/sub/f", []string{"offset=-2"}, 400, readResult{}},
		{latest + "/sub/f", []string{"offset=abc"}, 400, readResult{}},
		{latest + "/sub/f", []string{"offset=0", "length=-5"}, 400, readResult{}},
		{latest + "/sub", []string{"offset=0"}, 400, readResult{}},
		{latest + "/missing", []string{"offset=0"}, 404, readResult{}},
		{latest + "/../../../../../../etc/passwd", []string{"offset=0"}, 404, readResult{}},
		{real + "/../../../../../../../../etc/passwd", []string{"offset=0"}, 404, readResult{}},
		{"/etc/passwd", []string{"offset=0"}, 404, readResult{}},
		{latest + "/escape", []string{"offset=0"}, 403, readResult{}},
	}
	for _, r := range reads {
		var got readResult
		code := getJSON(t, a, q("/files/read", r.path, r.params...), &got)
		if code != r.code || (code == 200 && got != r.want) {
			t.Errorf("read %s %v: %d %+v, want %d %+v", r.path, r.params, code, got, r.code, r.want)
		}
	}
	if code, _ := getBody(t, a, "/files/read?offset=0"); code != 400 {
		t.Errorf("read without path: %d", code)
	}
	if code, _ := getBody(t, a, "/files/browse"); code != 400 {
		t.Errorf("browse without path: %d", code)
	}

	resp, err := http.Get("http://" + a.Addr() + q("/files/download", latest+"/sub/f"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "0123456789" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if code, _ := getBody(t, a, q("/files/download", latest+"/escape")); code != 403 {
		t.Errorf("download through an escaping link: %d", code)
	}
}
