package sharegpt

import (
	"maps"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		file    string
		entries int
		prompts []string
		replies []string // "" with no reply
		skipped map[string]int
	}{
		{
			file:    "good.json",
			entries: 4,
			prompts: []string{"What is the capital of France?", "Write a haiku about rain.", "Explain recursion in one sentence.", "Say hello."},
			replies: []string{"Paris is the capital of France.", "Soft rain on the roof, / the garden drinks in silence, / puddles hold the sky.", "Recursion is when a function solves a problem by calling itself on smaller parts of it.", ""},
			skipped: map[string]int{},
		},
		{
			file:    "malformed.json",
			entries: 15,
			prompts: []string{"List three primes.", "First."},
			replies: []string{"2, 3 and 5.", ""},
			skipped: map[string]int{
				SkipNotObject:       3, // a string, a number, null
				SkipNoConversations: 3, // missing, empty, not a list
				SkipFirstNotHuman:   2, // gpt first, system first
				SkipEmptyPrompt:     1,
				SkipBadTurn:         4, // value not a string, turn not an object, no from, bad second turn
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Read("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if f.Entries != tt.entries {
				t.Errorf("Entries = %d, want %d", f.Entries, tt.entries)
			}
			if len(f.SHA256) != 64 {
				t.Errorf("SHA256 = %q", f.SHA256)
			}
			if len(f.Conversations) != len(tt.prompts) {
				t.Fatalf("%d conversations, want %d: %+v", len(f.Conversations), len(tt.prompts), f.Conversations)
			}
			for i, c := range f.Conversations {
				if c.Prompt != tt.prompts[i] || c.Reply != tt.replies[i] || c.HasReply != (tt.replies[i] != "") {
					t.Errorf("conversation %d = %+v, want prompt %q reply %q", i, c, tt.prompts[i], tt.replies[i])
				}
			}
			if !maps.Equal(f.Skipped, tt.skipped) {
				t.Errorf("Skipped = %v, want %v", f.Skipped, tt.skipped)
			}
			total := len(f.Conversations)
			for _, n := range f.Skipped {
				total += n
			}
			if total != f.Entries {
				t.Errorf("%d usable + skipped, but %d entries", total, f.Entries)
			}
		})
	}
}

func TestReadEntryPositions(t *testing.T) {
	f, err := Read("testdata/malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	if f.Conversations[0].Entry != 0 || f.Conversations[1].Entry != 14 {
		t.Errorf("entries %d, %d, want 0, 14", f.Conversations[0].Entry, f.Conversations[1].Entry)
	}
}

func TestReadRefusesWhatIsNotAList(t *testing.T) {
	tests := []struct{ file, want string }{
		{"not-a-list.json", "a JSON document, but not a list"},
		{"truncated.json", "not valid JSON"},
		{"missing.json", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Read("testdata/" + tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if tt.file != "missing.json" && !strings.Contains(err.Error(), `"conversations"`) {
				t.Errorf("err = %v: it should show the expected shape", err)
			}
		})
	}
}
