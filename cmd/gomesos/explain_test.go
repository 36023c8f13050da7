package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/internal/testutil"
)

// gomesos explain against a real master and agent: a framework whose only
// role is suppressed and whose offer constraints rule the agent out hears
// both reasons; an unknown framework is an error naming it.
func TestExplainCommand(t *testing.T) {
	addr := startCluster(t)
	sub := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"test","name":"explain-cli","roles":["eng"],
		"capabilities":[{"type":"MULTI_ROLE"}]},"suppressed_roles":["eng"],
		"offer_constraints":{"role_constraints":{"eng":{"groups":[{"attribute_constraints":[
		{"selector":{"attribute_name":"rack"},"predicate":{"exists":{}}}]}]}}}}}`
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/scheduler", strings.NewReader(sub))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE: %d %s", resp.StatusCode, b)
	}
	// The first RecordIO record is SUBSCRIBED.
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("record length %q: %v", line, err)
	}
	rec := make([]byte, n)
	if _, err := io.ReadFull(br, rec); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type       string `json:"type"`
		Subscribed struct {
			FrameworkID struct {
				Value string `json:"value"`
			} `json:"framework_id"`
		} `json:"subscribed"`
	}
	if err := json.Unmarshal(rec, &ev); err != nil || ev.Type != "SUBSCRIBED" {
		t.Fatalf("first event %s: %v", rec, err)
	}
	id := ev.Subscribed.FrameworkID.Value

	var out string
	testutil.WaitFor(t, "explain to name both reasons", waitTimeout, func() bool {
		code, o, errOut := runCLI("explain", id, "--master="+addr)
		out = o + errOut
		return code == 0 && strings.Contains(o, "role eng is suppressed") && strings.Contains(o, "its offer constraints for role eng rule out agent ")
	})
	if !strings.Contains(out, "Framework "+id+" (explain-cli), active, roles eng") {
		t.Errorf("explain output lacks its header:\n%s", out)
	}

	code, o, errOut := runCLI("explain", "no-such-framework", "--master="+addr)
	if code != 1 || o != "" || !strings.Contains(errOut, "Framework 'no-such-framework' is not known to the master") {
		t.Errorf("explain of an unknown framework: exit %d, %q %q", code, o, errOut)
	}
	if code, _, errOut := runCLI("explain", "--master="+addr); code != 2 || !strings.Contains(errOut, "expecting FRAMEWORK_ID") {
		t.Errorf("explain without an id: exit %d, %q", code, errOut)
	}
}

// The master's deprecated --roles is validated as Mesos validates roles.
func TestMasterRolesFlag(t *testing.T) {
	code, _, errOut := runCLI("master", "--port=0", "--roles=eng,-bad")
	if code != 2 || !strings.Contains(errOut, "roles") || !strings.Contains(errOut, "Role component '-bad' is invalid because it starts with a dash") {
		t.Errorf("--roles=eng,-bad: exit %d, %q", code, errOut)
	}
}
