package engineargs

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var engines = []string{"vllm", "sglang", "transformers"}

// accepted lists every accepted form. The expected values were checked once
// against CPython 3.11: ast.literal_eval of the same text, with json.loads of
// the JSON below giving identical Python values (types included) and the
// Format text parsing back to them.
var accepted = []struct {
	name   string
	in     string
	want   Kwargs
	json   string
	format string // "" means the same as the input after "vllm: "
}{
	{"example", "vllm: gpu_memory_utilization=0.85, max_num_seqs=256",
		Kwargs{{"gpu_memory_utilization", Float(0.85)}, {"max_num_seqs", int64(256)}},
		`{"gpu_memory_utilization":0.85,"max_num_seqs":256}`, ""},
	{"spaces and trailing comma", "  sglang :mem_fraction_static = 0.8 ,  ",
		Kwargs{{"mem_fraction_static", Float(0.8)}}, `{"mem_fraction_static":0.8}`, "mem_fraction_static=0.8"},
	{"strings", `vllm: a="bfloat16", b='single', c=u"u", d=r"\d\n", e="x" 'y'`,
		Kwargs{{"a", "bfloat16"}, {"b", "single"}, {"c", "u"}, {"d", `\d\n`}, {"e", "xy"}},
		`{"a":"bfloat16","b":"single","c":"u","d":"\\d\\n","e":"xy"}`, `a="bfloat16", b="single", c="u", d="\\d\\n", e="xy"`},
	{"escapes", `vllm: s="\x41\101\u00e9\U0001F600\a\t\0\\\"\q", t='\777'`,
		Kwargs{{"s", "AAé😀\a\t\x00\\\"\\q"}, {"t", "ǿ"}},
		`{"s":"AAé😀\u0007\t\u0000\\\"\\q","t":"ǿ"}`, `s="AAé😀\x07\t\x00\\\"\\q", t="ǿ"`},
	{"triple quotes and newlines", "vllm: s=\"\"\"a\nb\"\"\", t='''it's'''",
		Kwargs{{"s", "a\nb"}, {"t", "it's"}}, `{"s":"a\nb","t":"it's"}`, `s="a\nb", t="it's"`},
	{"special characters", `vllm: stop=["</s>", "\n\n", "\u00a0"]`,
		Kwargs{{"stop", []any{"</s>", "\n\n", "\u00a0"}}}, `{"stop":["\u003c/s\u003e","\n\n","` + "\u00a0" + `"]}`, `stop=["</s>", "\n\n", "\xa0"]`},
	{"ints", "vllm: a=0, b=-7, c=+5, d=0x10, e=0o17, f=0b101, g=00",
		Kwargs{{"a", int64(0)}, {"b", int64(-7)}, {"c", int64(5)}, {"d", int64(16)}, {"e", int64(15)}, {"f", int64(5)}, {"g", int64(0)}},
		`{"a":0,"b":-7,"c":5,"d":16,"e":15,"f":5,"g":0}`, "a=0, b=-7, c=5, d=16, e=15, f=5, g=0"},
	{"big ints", "vllm: a=123456789012345678901234567890, b=-123456789012345678901234567890, c=9223372036854775807, d=-9223372036854775808, e=9223372036854775808, f=0xffffffffffffffffff",
		Kwargs{{"a", json.Number("123456789012345678901234567890")}, {"b", json.Number("-123456789012345678901234567890")},
			{"c", int64(math.MaxInt64)}, {"d", int64(math.MinInt64)}, {"e", json.Number("9223372036854775808")}, {"f", json.Number("4722366482869645213695")}},
		`{"a":123456789012345678901234567890,"b":-123456789012345678901234567890,"c":9223372036854775807,"d":-9223372036854775808,"e":9223372036854775808,"f":4722366482869645213695}`,
		"a=123456789012345678901234567890, b=-123456789012345678901234567890, c=9223372036854775807, d=-9223372036854775808, e=9223372036854775808, f=4722366482869645213695"},
	{"floats", "vllm: a=4.0, b=.5, c=5., d=1e-5, e=1e16, f=-0.0, g=-.5e-3, h=1E3, i=+2.5, j=-(1.5)",
		Kwargs{{"a", Float(4)}, {"b", Float(0.5)}, {"c", Float(5)}, {"d", Float(1e-5)}, {"e", Float(1e16)}, {"f", Float(math.Copysign(0, -1))},
			{"g", Float(-0.0005)}, {"h", Float(1000)}, {"i", Float(2.5)}, {"j", Float(-1.5)}},
		`{"a":4.0,"b":0.5,"c":5.0,"d":1e-05,"e":1e+16,"f":-0.0,"g":-0.0005,"h":1000.0,"i":2.5,"j":-1.5}`,
		"a=4.0, b=0.5, c=5.0, d=1e-05, e=1e+16, f=-0.0, g=-0.0005, h=1000.0, i=2.5, j=-1.5"},
	{"PEP 515 underscores", "vllm: max_num_batched_tokens=8_192, a=1_000.000_1, b=0x_ff_ff, c=0o_1_7, d=0b1_0, e=1_0e1_0, f=-1_000, g=0_0",
		Kwargs{{"max_num_batched_tokens", int64(8192)}, {"a", Float(1000.0001)}, {"b", int64(0xffff)}, {"c", int64(15)}, {"d", int64(2)},
			{"e", Float(1e11)}, {"f", int64(-1000)}, {"g", int64(0)}},
		`{"max_num_batched_tokens":8192,"a":1000.0001,"b":65535,"c":15,"d":2,"e":100000000000.0,"f":-1000,"g":0}`,
		"max_num_batched_tokens=8192, a=1000.0001, b=65535, c=15, d=2, e=100000000000.0, f=-1000, g=0"},
	{"constants", "vllm: enforce_eager=True, trust_remote_code=False, quantization=None",
		Kwargs{{"enforce_eager", true}, {"trust_remote_code", false}, {"quantization", nil}},
		`{"enforce_eager":true,"trust_remote_code":false,"quantization":null}`, ""},
	{"lists and tuples", "vllm: a=[1, 2], b=(1, 2), c=(), d=(1,), e=[], f=[[1], (2, [3])], g=(((4)))",
		Kwargs{{"a", []any{int64(1), int64(2)}}, {"b", []any{int64(1), int64(2)}}, {"c", []any{}}, {"d", []any{int64(1)}}, {"e", []any{}},
			{"f", []any{[]any{int64(1)}, []any{int64(2), []any{int64(3)}}}}, {"g", int64(4)}},
		`{"a":[1,2],"b":[1,2],"c":[],"d":[1],"e":[],"f":[[1],[2,[3]]],"g":4}`,
		"a=[1, 2], b=[1, 2], c=[], d=[1], e=[], f=[[1], [2, [3]]], g=4"},
	{"dicts", `vllm: rope_scaling={"rope_type": "yarn", "factor": 4.0, "n": {"deep": [None]}}, e={}`,
		Kwargs{{"rope_scaling", Dict{{"rope_type", "yarn"}, {"factor", Float(4)}, {"n", Dict{{"deep", []any{nil}}}}}}, {"e", Dict{}}},
		`{"rope_scaling":{"rope_type":"yarn","factor":4.0,"n":{"deep":[null]}},"e":{}}`, ""},
	{"multi-line", "vllm: a=[1,\n  2],\r\n b='x'",
		Kwargs{{"a", []any{int64(1), int64(2)}}, {"b", "x"}}, `{"a":[1,2],"b":"x"}`, `a=[1, 2], b="x"`},
	{"soft keywords and builtins are fine names", "vllm: match=1, type=2, print=3, _x9=4",
		Kwargs{{"match", int64(1)}, {"type", int64(2)}, {"print", int64(3)}, {"_x9", int64(4)}}, `{"match":1,"type":2,"print":3,"_x9":4}`, ""},
	{"engine with other names", "transformers: torch_dtype=\"float32\"",
		Kwargs{{"torch_dtype", "float32"}}, `{"torch_dtype":"float32"}`, `torch_dtype="float32"`},
}

func TestParseAccepted(t *testing.T) {
	t.Parallel()
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			engine, kw, err := parseOne(tt.in, engines)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want, _, _ := strings.Cut(strings.TrimSpace(tt.in), ":"); engine != strings.TrimSpace(want) {
				t.Errorf("engine = %q, want %q", engine, want)
			}
			if !reflect.DeepEqual(kw, tt.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", kw, tt.want)
			}
			j, err := json.Marshal(kw)
			if err != nil || string(j) != tt.json {
				t.Errorf("JSON = %s, %v\nwant   %s", j, err, tt.json)
			}
			wantFormat := tt.format
			if wantFormat == "" {
				_, wantFormat, _ = strings.Cut(tt.in, ": ")
			}
			if got := kw.Format(); got != wantFormat {
				t.Errorf("Format = %s\nwant     %s", got, wantFormat)
			}
			// The formatted text parses back to the same values.
			_, again, err := parseOne(engine+": "+kw.Format(), engines)
			if err != nil || !reflect.DeepEqual(again, kw) {
				t.Errorf("parseOne(Format) = %#v, %v", again, err)
			}
			// And the JSON decodes back to the same Go values.
			var back Kwargs
			if err := json.Unmarshal(j, &back); err != nil || !reflect.DeepEqual(back, kw) {
				t.Errorf("Unmarshal(JSON) = %#v, %v", back, err)
			}
		})
	}
}

// rejected lists every rejected form with its exact message.
var rejected = []struct {
	name, in, want string
}{
	// The engine prefix.
	{"empty", "", "--engine-arg '': column 1: empty value; hint: write ENGINE: name=value, e.g. sglang: gpu_memory_utilization=0.85"},
	{"missing engine", "gpu_memory_utilization=0.85",
		"--engine-arg 'gpu_memory_utilization=0.85': column 1: `gpu_memory_utilization`: missing engine name; hint: start with the engine and a colon, e.g. 'sglang: gpu_memory_utilization=0.85'; known engines: sglang, transformers, vllm"},
	{"missing colon", "vllm max_num_seqs=8", "--engine-arg 'vllm max_num_seqs=8': column 1: `vllm`: missing : after the engine name; hint: write vllm: name=value"},
	{"unknown engine", "tgi: x=1", "--engine-arg 'tgi: x=1': column 1: `tgi`: unknown engine; hint: known engines: sglang, transformers, vllm"},
	{"engine case", "vLLM: x=1", "--engine-arg 'vLLM: x=1': column 1: `vLLM`: unknown engine; hint: did you mean vllm?; known engines: sglang, transformers, vllm"},
	{"colon only", ": x=1", "--engine-arg ': x=1': column 1: `:`: missing engine name before the colon; hint: known engines: sglang, transformers, vllm"},
	{"no arguments", "vllm:  ", "--engine-arg 'vllm:  ': column 8: no arguments after vllm:; hint: write vllm: name=value"},
	{"invalid UTF-8", "vllm: x=\"\xff\"", `--engine-arg "vllm: x=\"\xff\"": column 10: invalid UTF-8 (byte 0xff); hint: the value must be UTF-8 text`},

	// Argument structure.
	{"positional", "vllm: 0.85", "--engine-arg 'vllm: 0.85': column 7: `0.85`: positional values are not allowed; write name=value; hint: give it a name: name=0.85"},
	{"positional after keyword", "vllm: a=1, [2, 3]", "--engine-arg 'vllm: a=1, [2, 3]': column 12: `[2, 3]`: positional values are not allowed; write name=value; hint: give it a name: name=[2, 3]"},
	{"double equals", "vllm: max_num_seqs==8", "--engine-arg 'vllm: max_num_seqs==8': column 7: `max_num_seqs==8`: positional values are not allowed; write name=value; hint: use a single =: max_num_seqs=8"},
	{"star args", "vllm: a=1, *b", "--engine-arg 'vllm: a=1, *b': column 12: `*b`: * unpacking is not allowed; hint: write each argument as name=value"},
	{"double star kwargs", `vllm: **{"a": 1}`, "--engine-arg 'vllm: **{\"a\": 1}': column 7: `**{\"a\": 1}`: ** unpacking is not allowed; hint: write each argument as name=value"},
	{"duplicate key", "vllm: max_num_seqs=8, max_num_seqs=16", "--engine-arg 'vllm: max_num_seqs=8, max_num_seqs=16': column 23: `max_num_seqs`: max_num_seqs is given twice; hint: it was first given at column 7"},
	{"dashed name", "vllm: --max-num-seqs=256", "--engine-arg 'vllm: --max-num-seqs=256': column 7: `--max-num-seqs`: not a valid argument name; hint: did you mean max_num_seqs=256?"},
	{"dotted name", "vllm: a.b=1", "--engine-arg 'vllm: a.b=1': column 7: `a.b`: not a valid argument name; hint: argument names are Python identifiers, like max_num_seqs"},
	{"keyword name", "vllm: lambda=1", "--engine-arg 'vllm: lambda=1': column 7: `lambda`: a Python keyword cannot be an argument name; hint: check the spelling of the argument name"},
	{"constant name", "vllm: True=1", "--engine-arg 'vllm: True=1': column 7: `True`: a Python keyword cannot be an argument name; hint: check the spelling of the argument name"},
	{"non-ASCII name", "vllm: größe=1", "--engine-arg 'vllm: größe=1': column 7: `größe`: argument names must be ASCII identifiers; hint: engine arguments have plain ASCII names, like max_num_seqs"},
	{"missing name", "vllm: =1", "--engine-arg 'vllm: =1': column 7: `=`: missing argument name; hint: write name=value"},
	{"missing value", "vllm: seed=, x=1", "--engine-arg 'vllm: seed=, x=1': column 7: `seed=`: missing value; hint: write a literal after =, e.g. seed=1 or seed=\"text\""},
	{"empty argument", "vllm: a=1,, b=2", "--engine-arg 'vllm: a=1,, b=2': column 11: `,`: empty argument; hint: remove the extra comma"},
	{"leading comma", "vllm: , a=1", "--engine-arg 'vllm: , a=1': column 7: `,`: empty argument; hint: remove the extra comma"},
	{"missing comma", "vllm: a=1 b=2", "--engine-arg 'vllm: a=1 b=2': column 11: `b`: invalid syntax; hint: missing comma?"},
	{"missing comma in list", "vllm: a=[1 2]", "--engine-arg 'vllm: a=[1 2]': column 12: `2`: invalid syntax; hint: missing comma?"},
	{"semicolon", "vllm: a=1; b=2", "--engine-arg 'vllm: a=1; b=2': column 10: `;`: invalid syntax; hint: separate arguments with commas"},
	{"colon instead of equals", "vllm: seed: 1", "--engine-arg 'vllm: seed: 1': column 11: `:`: invalid syntax; hint: write seed=value, not seed: value"},
	{"incomplete", "vllm: a=1 if", "--engine-arg 'vllm: a=1 if': column 13: unexpected end of input; hint: the last argument is incomplete"},

	// Values.
	{"bare name", "vllm: dtype=bfloat16", "--engine-arg 'vllm: dtype=bfloat16': column 13: `bfloat16`: a bare name is not a literal; hint: did you mean dtype=\"bfloat16\"?"},
	{"JSON true", "vllm: enforce_eager=true", "--engine-arg 'vllm: enforce_eager=true': column 21: `true`: a bare name is not a literal; hint: did you mean enforce_eager=True?"},
	{"JSON null", "vllm: quantization=null", "--engine-arg 'vllm: quantization=null': column 20: `null`: a bare name is not a literal; hint: did you mean quantization=None?"},
	{"nested bare name", "vllm: stop=[eos, 2]", "--engine-arg 'vllm: stop=[eos, 2]': column 13: `eos`: a bare name is not a literal; hint: did you mean \"eos\"?"},
	{"attribute", "vllm: dtype=torch.float16", "--engine-arg 'vllm: dtype=torch.float16': column 13: `torch.float16`: attribute access is not allowed; hint: did you mean dtype=\"float16\"?"},
	{"call", `vllm: x=__import__("os").system("id")`, "--engine-arg 'vllm: x=__import__(\"os\").system(\"id\")': column 9: `__import__(\"os\").system(\"id\")`: calls are not allowed; hint: nothing is evaluated; write the value itself as a literal"},
	{"call inside list", `vllm: x=[1, float("inf")]`, "--engine-arg 'vllm: x=[1, float(\"inf\")]': column 13: `float(\"inf\")`: calls are not allowed; hint: nothing is evaluated; write the value itself as a literal"},
	{"binary operator", "vllm: x=1+2", "--engine-arg 'vllm: x=1+2': column 9: `1+2`: operators are not allowed; hint: write the resulting value as a literal"},
	{"power", "vllm: x=2**10", "--engine-arg 'vllm: x=2**10': column 9: `2**10`: operators are not allowed; hint: write the resulting value as a literal"},
	{"boolean operator", "vllm: x=True or False", "--engine-arg 'vllm: x=True or False': column 9: `True or False`: operators are not allowed; hint: write the resulting value as a literal"},
	{"comparison", "vllm: x=1 < 2", "--engine-arg 'vllm: x=1 < 2': column 9: `1 < 2`: operators are not allowed; hint: write the resulting value as a literal"},
	{"not", "vllm: x=not 1", "--engine-arg 'vllm: x=not 1': column 9: `not 1`: operators are not allowed; hint: write the resulting value as a literal"},
	{"invert", "vllm: x=~1", "--engine-arg 'vllm: x=~1': column 9: `~1`: operators are not allowed; hint: write the resulting value as a literal"},
	{"double sign", "vllm: x=--1", "--engine-arg 'vllm: x=--1': column 9: `--1`: operators are not allowed; hint: a sign is only allowed directly on a number"},
	{"sign on a name", "vllm: x=-y", "--engine-arg 'vllm: x=-y': column 9: `-y`: operators are not allowed; hint: a sign is only allowed directly on a number"},
	{"sign on True", "vllm: x=-True", "--engine-arg 'vllm: x=-True': column 9: `-True`: operators are not allowed; hint: a sign is only allowed directly on a number"},
	{"list comprehension", "vllm: x=[i for i in range(3)]", "--engine-arg 'vllm: x=[i for i in range(3)]': column 9: `[i for i in range(3)]`: comprehensions are not allowed; hint: write the items out"},
	{"dict comprehension", "vllm: x={k: 1 for k in y}", "--engine-arg 'vllm: x={k: 1 for k in y}': column 9: `{k: 1 for k in y}`: comprehensions are not allowed; hint: write the items out"},
	{"generator", "vllm: x=(i for i in y)", "--engine-arg 'vllm: x=(i for i in y)': column 9: `(i for i in y)`: comprehensions are not allowed; hint: write the items out"},
	{"lambda", "vllm: x=lambda: 1", "--engine-arg 'vllm: x=lambda: 1': column 9: `lambda`: lambdas are not allowed; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"conditional", "vllm: x=1 if y else 2", "--engine-arg 'vllm: x=1 if y else 2': column 9: `1 if y else 2`: conditional expressions are not allowed; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"subscript", "vllm: x=[1, 2][0]", "--engine-arg 'vllm: x=[1, 2][0]': column 9: `[1, 2][0]`: subscripts are not allowed; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"starred in list", "vllm: x=[*y]", "--engine-arg 'vllm: x=[*y]': column 10: `*y`: unpacking is not allowed; hint: write the items out"},
	{"set", "vllm: x={1, 2}", "--engine-arg 'vllm: x={1, 2}': column 9: `{1, 2}`: sets are not allowed; hint: write a list: [1, 2]"},
	{"non-string dict key", `vllm: x={1: "a"}`, "--engine-arg 'vllm: x={1: \"a\"}': column 10: `1`: dict keys must be strings; hint: JSON objects only have string keys; write \"1\""},
	{"duplicate dict key", `vllm: x={"a": 1, "a": 2}`, "--engine-arg 'vllm: x={\"a\": 1, \"a\": 2}': column 18: `\"a\"`: duplicate dict key; hint: it was first given at column 10"},
	{"ellipsis", "vllm: x=...", "--engine-arg 'vllm: x=...': column 9: `...`: Ellipsis is not allowed; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"complex", "vllm: x=1j", "--engine-arg 'vllm: x=1j': column 9: `1j`: complex numbers are not allowed; hint: JSON has no complex numbers; values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"infinite float", "vllm: x=1e999", "--engine-arg 'vllm: x=1e999': column 9: `1e999`: the number is too large for a float; hint: JSON cannot carry infinity; use a smaller value"},
	{"bytes", `vllm: x=b"abc"`, "--engine-arg 'vllm: x=b\"abc\"': column 9: `b\"abc\"`: bytes literals are not allowed; hint: write a str: \"abc\""},
	{"raw bytes", `vllm: x=Rb'\d'`, "--engine-arg \"vllm: x=Rb'\\\\d'\": column 9: `Rb'\\d'`: bytes literals are not allowed; hint: write a str: '\\d'"},
	{"f-string", `vllm: x=f"{a}b"`, "--engine-arg 'vllm: x=f\"{a}b\"': column 9: `f\"{a}b\"`: f-strings are not allowed; hint: write a plain string: \"{a}b\""},
	{"raw f-string", `vllm: x=rf"a"`, "--engine-arg 'vllm: x=rf\"a\"': column 9: `rf\"a\"`: f-strings are not allowed; hint: write a plain string: \"a\""},

	// Lexical errors.
	{"unterminated string", `vllm: x="abc, y=1`, "--engine-arg 'vllm: x=\"abc, y=1': column 9: `\"abc, y=1`: unterminated string; hint: close it with \""},
	{"unterminated triple", `vllm: x="""abc`, "--engine-arg 'vllm: x=\"\"\"abc': column 9: `\"\"\"abc`: unterminated string; hint: close it with \"\"\""},
	{"newline in string", "vllm: x='a\nb'", "--engine-arg \"vllm: x='a\\nb'\": line 1, column 9: `'a`: unterminated string; hint: close it with ' before the end of the line"},
	{"named escape", `vllm: x="\N{EM DASH}"`, "--engine-arg 'vllm: x=\"\\N{EM DASH}\"': column 10: `\\N{EM DASH}`: \\N{...} escapes are not supported; hint: type the character itself, or use a \\u escape such as \\u2014"},
	{"surrogate escape", `vllm: x="\ud83d"`, "--engine-arg 'vllm: x=\"\\ud83d\"': column 10: `\\ud83d`: lone surrogate escapes are not allowed; hint: write the character itself or its \\U escape"},
	{"short hex escape", `vllm: x="\x4g"`, "--engine-arg 'vllm: x=\"\\x4g\"': column 10: `\\x4`: truncated \\x escape; hint: \\x needs 2 hex digits, e.g. \\x41"},
	{"short unicode escape", `vllm: x="\u12"`, "--engine-arg 'vllm: x=\"\\u12\"': column 10: `\\u12`: truncated \\u escape; hint: \\u needs 4 hex digits, e.g. \\u00e9"},
	{"escape beyond Unicode", `vllm: x="\U00110000"`, "--engine-arg 'vllm: x=\"\\U00110000\"': column 10: `\\U00110000`: escape is beyond the last Unicode character U+10FFFF; hint: \\U escapes go up to \\U0010ffff"},
	{"double underscore", "vllm: x=8__192", "--engine-arg 'vllm: x=8__192': column 9: `8__192`: invalid underscore in number; hint: underscores may only separate digits, as in 8_192"},
	{"trailing underscore", "vllm: x=8192_", "--engine-arg 'vllm: x=8192_': column 9: `8192_`: invalid underscore in number; hint: underscores may only separate digits, as in 8_192"},
	{"underscore by the point", "vllm: x=1_.5", "--engine-arg 'vllm: x=1_.5': column 9: `1_.5`: invalid underscore in number; hint: underscores may only separate digits, as in 8_192"},
	{"underscore in exponent", "vllm: x=1e_5", "--engine-arg 'vllm: x=1e_5': column 9: `1e_5`: invalid underscore in number; hint: underscores may only separate digits, as in 8_192"},
	{"underscore in hex", "vllm: x=0x_", "--engine-arg 'vllm: x=0x_': column 9: `0x_`: invalid underscore in number; hint: underscores may only separate digits, as in 8_192"},
	{"leading zeros", "vllm: x=0755", "--engine-arg 'vllm: x=0755': column 9: `0755`: leading zeros are not allowed in decimal integers; hint: write 755, or 0o755 for an octal number"},
	{"bad binary digit", "vllm: x=0b102", "--engine-arg 'vllm: x=0b102': column 9: `0b102`: invalid number; hint: binary digits are 0 and 1"},
	{"bad octal digit", "vllm: x=0o8", "--engine-arg 'vllm: x=0o8': column 9: `0o8`: invalid number; hint: octal digits are 0-7"},
	{"bad hex digit", "vllm: x=0xfg", "--engine-arg 'vllm: x=0xfg': column 9: `0xfg`: invalid number; hint: hexadecimal digits are 0-9 and a-f"},
	{"number then letters", "vllm: x=12abc", "--engine-arg 'vllm: x=12abc': column 9: `12abc`: invalid number; hint: numbers are written like 8192, 0.85, 1e-5 or 0x1f; quote other text as a string"},
	{"two points", "vllm: x=1.2.3", "--engine-arg 'vllm: x=1.2.3': column 9: `1.2.3`: invalid number; hint: numbers are written like 8192, 0.85, 1e-5 or 0x1f; quote other text as a string"},
	{"empty exponent", "vllm: x=1e", "--engine-arg 'vllm: x=1e': column 9: `1e`: invalid number; hint: numbers are written like 8192, 0.85, 1e-5 or 0x1f; quote other text as a string"},
	{"comment", "vllm: x=1 # note", "--engine-arg 'vllm: x=1 # note': column 11: `# note`: comments are not allowed; hint: remove the # and what follows it"},
	{"backslash", "vllm: x=1, \\\n y=2", "--engine-arg \"vllm: x=1, \\\\\\n y=2\": line 1, column 12: `\\`: a backslash is only allowed inside a string; hint: put all arguments on one line"},
	{"stray character", "vllm: x=1$", "--engine-arg 'vllm: x=1$': column 10: `$`: unexpected character '$'; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"non-breaking space", "vllm: x=1,\u00a0y=2", "--engine-arg 'vllm: x=1,\u00a0y=2': column 11: `\u00a0`: unexpected character '\\u00a0'; hint: values must be Python literals: strings, numbers, True, False, None, lists, tuples or dicts"},
	{"unclosed bracket", "vllm: x=[1, 2", "--engine-arg 'vllm: x=[1, 2': column 9: `[`: [ is never closed; hint: add the closing ]"},
	{"unmatched bracket", "vllm: x=1)", "--engine-arg 'vllm: x=1)': column 10: `)`: unmatched ); hint: remove it, or add the opening ("},
	{"mismatched bracket", "vllm: x=(1, 2]", "--engine-arg 'vllm: x=(1, 2]': column 14: `]`: ] does not match ( at column 9; hint: close ( with )"},
	{"position after non-ASCII", `vllm: s="größe", t=x`, "--engine-arg 'vllm: s=\"größe\", t=x': column 20: `x`: a bare name is not a literal; hint: did you mean t=\"x\"?"},
	{"position on a later line", "vllm: a=[1,\n  2,\n  oops]", "--engine-arg \"vllm: a=[1,\\n  2,\\n  oops]\": line 3, column 3: `oops`: a bare name is not a literal; hint: did you mean \"oops\"?"},
	{"long text is clipped", "vllm: " + strings.Repeat("1+", 40) + "1",
		"--engine-arg '" + "vllm: " + strings.Repeat("1+", 40) + "1" + "': column 7: `" + strings.Repeat("1+", 28) + "1...`: positional values are not allowed; write name=value; hint: give it a name: name=" + strings.Repeat("1+", 40) + "1"},
}

func TestParseRejected(t *testing.T) {
	t.Parallel()
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			engine, kw, err := parseOne(tt.in, engines)
			if err == nil {
				t.Fatalf("parseOne(%q) = %s, %#v; want an error", tt.in, engine, kw)
			}
			if err.Error() != tt.want {
				t.Errorf("parseOne(%q) error\n got: %s\nwant: %s", tt.in, err, tt.want)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error is a %T, not *Error", err)
			}
			if perr.Offset < 0 || perr.Offset > len(tt.in) || !strings.HasPrefix(tt.in[perr.Offset:], perr.Text) {
				t.Errorf("Offset %d does not point at Text %q", perr.Offset, perr.Text)
			}
			if perr.Hint == "" {
				t.Error("the error has no hint")
			}
		})
	}
}

// TestCaretGolden renders every rejected form as a terminal would show it.
// Regenerate with: go test ./offline/engineargs -run TestCaretGolden -update
func TestCaretGolden(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for _, tt := range rejected {
		_, _, err := parseOne(tt.in, engines)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Fatalf("%s: no *Error", tt.name)
		}
		b.WriteString("== " + tt.name + "\n" + perr.Caret() + "\n" + perr.Msg)
		if perr.Hint != "" {
			b.WriteString(" (hint: " + perr.Hint + ")")
		}
		b.WriteString("\n\n")
	}
	golden := filepath.Join("testdata", "carets.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("carets differ from %s (run with -update if intended):\n%s", golden, b.String())
	}
}

func TestErrorFields(t *testing.T) {
	t.Parallel()
	in := "vllm: a=1,\n  b=größe, c=x"
	_, _, err := parseOne(in, engines)
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse error %v is not *Error", err)
	}
	want := &Error{Input: in, Offset: 15, Line: 2, Column: 5, Text: "größe", Msg: "a bare name is not a literal", Hint: `did you mean b="größe"?`}
	if !reflect.DeepEqual(perr, want) {
		t.Errorf("error = %#v\nwant %#v", perr, want)
	}
	if got := perr.Caret(); got != "  b=größe, c=x\n    ^^^^^" {
		t.Errorf("Caret() =\n%s", got)
	}
}

func TestParseAll(t *testing.T) {
	t.Parallel()
	got, err := ParseAll([]string{
		"vllm: gpu_memory_utilization=0.85",
		"sglang: mem_fraction_static=0.8",
		"vllm: max_num_seqs=256, enforce_eager=True",
	}, engines)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Kwargs{
		"vllm":   {{"gpu_memory_utilization", Float(0.85)}, {"max_num_seqs", int64(256)}, {"enforce_eager", true}},
		"sglang": {{"mem_fraction_static", Float(0.8)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAll = %#v\nwant %#v", got, want)
	}
	b, err := json.Marshal(got)
	if err != nil || string(b) != `{"sglang":{"mem_fraction_static":0.8},"vllm":{"gpu_memory_utilization":0.85,"max_num_seqs":256,"enforce_eager":true}}` {
		t.Errorf("JSON = %s, %v", b, err)
	}
	if got, err := ParseAll(nil, engines); err != nil || len(got) != 0 {
		t.Errorf("ParseAll(nil) = %v, %v", got, err)
	}

	for _, tt := range []struct {
		name   string
		values []string
		want   string
	}{
		{"same key in two flags", []string{"vllm: seed=1, max_num_seqs=8", "sglang: seed=2", "vllm:  max_num_seqs = 16"},
			"--engine-arg 'vllm:  max_num_seqs = 16': column 8: `max_num_seqs`: max_num_seqs is given twice for vllm; hint: it was first given in --engine-arg 'vllm: seed=1, max_num_seqs=8'"},
		{"bad second flag", []string{"vllm: seed=1", "vllm: x=y"},
			"--engine-arg 'vllm: x=y': column 9: `y`: a bare name is not a literal; hint: did you mean x=\"y\"?"},
	} {
		_, err := ParseAll(tt.values, engines)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error\n got: %v\nwant: %s", tt.name, err, tt.want)
		}
	}
	if _, err := ParseAll([]string{"vllm: x=1"}, nil); err == nil || !strings.HasSuffix(err.Error(), "hint: no engines are known") {
		t.Errorf("no known engines: %v", err)
	}
}

func TestFloatRepr(t *testing.T) {
	t.Parallel()
	// Python's repr() of the same doubles (CPython 3.11).
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {4, "4.0"}, {0.85, "0.85"}, {0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{123456789012345678, "1.2345678901234568e+17"}, {1e-4, "0.0001"}, {1e-5, "1e-05"}, {1.5e-7, "1.5e-07"},
		{2.5e-308, "2.5e-308"}, {5e-324, "5e-324"}, {math.MaxFloat64, "1.7976931348623157e+308"}, {-2.5, "-2.5"},
		{100, "100.0"}, {1e22, "1e+22"}, {12345.678, "12345.678"}, {0.000123, "0.000123"}, {9007199254740993, "9007199254740992.0"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := Float(tt.f).String(); got != tt.want {
			t.Errorf("Float(%v).String() = %s, want %s", tt.f, got, tt.want)
		}
	}
	for _, f := range []float64{math.Inf(1), math.NaN()} {
		if _, err := json.Marshal(Float(f)); err == nil {
			t.Errorf("json.Marshal(Float(%v)) succeeded", f)
		}
	}
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want string
	}{
		{"a\"b\\c\n\r\t", `"a\"b\\c\n\r\t"`},
		{"\x00\x1f\x7f\u0085\u00a0\u00ad\u200b\u2028\U000e0001", `"\x00\x1f\x7f\x85\xa0\xad\u200b\u2028\U000e0001"`},
		{"é😀中'", `"é😀中'"`},
		{3, "3"}, {2.0, "2.0"}, {[]any{}, "[]"}, {Dict{}, "{}"}, {Dict{{"k\"", []any{nil, true}}}, `{"k\"": [None, True]}`},
		{struct{}{}, "struct {}{}"},
	}
	for _, tt := range tests {
		var b strings.Builder
		formatValue(&b, tt.v)
		if got := b.String(); got != tt.want {
			t.Errorf("formatValue(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"not an object", `[1]`, "engine args: expected a JSON object, found ["},
		{"duplicate key", `{"a":1,"a":2}`, `engine args: duplicate key "a"`},
		{"duplicate nested key", `{"a":{"b":1,"b":1}}`, `engine args: duplicate key "b"`},
		{"key not an identifier", `{"max-num-seqs":1}`, `engine args: key "max-num-seqs" is not a Python identifier`},
		{"keyword key", `{"lambda":1}`, `engine args: key "lambda" is not a Python identifier`},
		{"trailing data", `{"a":1} 2`, "engine args: trailing data after the JSON object"},
		{"truncated", `{"a":`, "engine args: unexpected EOF"},
		{"empty", ``, "engine args: EOF"},
	}
	for _, tt := range tests {
		// Called directly: json.Unmarshal would reject the last three itself.
		var kw Kwargs
		err := kw.UnmarshalJSON([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: Unmarshal error = %v, want %q", tt.name, err, tt.want)
		}
	}
	var d Dict
	if err := json.Unmarshal([]byte(`{"max-num-seqs":1e3,"n":-0,"b":12345678901234567890123}`), &d); err != nil ||
		!reflect.DeepEqual(d, Dict{{"max-num-seqs", Float(1000)}, {"n", int64(0)}, {"b", json.Number("12345678901234567890123")}}) {
		t.Errorf("Dict Unmarshal = %#v, %v", d, err)
	}
	if b, err := json.Marshal(Dict{{"z", Float(1)}, {"a", []any{Dict{}}}}); err != nil || string(b) != `{"z":1.0,"a":[{}]}` {
		t.Errorf("json.Marshal(Dict) = %s, %v", b, err)
	}
	if _, err := json.Marshal(Kwargs{{"a", json.Number("1.5")}}); err == nil {
		t.Error("a non-integer json.Number was encoded")
	}
	if _, err := json.Marshal(Kwargs{{"a", struct{}{}}}); err == nil {
		t.Error("an unsupported type was encoded")
	}
	if v, ok := (Kwargs{{"a", int64(1)}}).Get("a"); !ok || v != int64(1) {
		t.Errorf("Get = %v, %v", v, ok)
	}
	if _, ok := (Dict{}).Get("a"); ok {
		t.Error("Get on an empty Dict found a key")
	}
}
