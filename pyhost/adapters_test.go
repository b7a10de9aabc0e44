package pyhost_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

// The engine adapters' own logic (sampling parameters never dropped, answers
// matched to prompts, the workload read from its file), checked in Python on
// the fake engines by testdata/adapters/checks.py.
func TestAdapterChecks(t *testing.T) {
	py := pyhosttest.DefaultPython(t)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cmd := exec.Command(py.Executable, abs("testdata/adapters/checks.py"), abs("../cmd/enginebench/testdata/model"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+abs("py")+string(os.PathListSeparator)+abs("testdata/fakeengines"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("checks.py: %v\n%s", err, out)
	}
	for _, name := range []string{
		"missing_params_reads_every_kind_of_constructor",
		"vllm_refuses_a_sampling_params_without_ignore_eos",
		"sglang_refuses_a_sampling_params_without_max_new_tokens",
		"sglang_answers_name_their_prompts_by_request_id",
		"the_adapter_reads_the_workload_file_and_hashes_what_it_holds",
		"a_sharegpt_workload_varies_in_length_and_hashes_its_output_lengths",
	} {
		if !strings.Contains(string(out), "ok "+name+"\n") {
			t.Errorf("check %s did not pass:\n%s", name, out)
		}
	}
}
