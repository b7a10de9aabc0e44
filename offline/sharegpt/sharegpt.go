// Package sharegpt reads ShareGPT-format conversation files: a JSON list of
// conversations, each {"conversations": [{"from": "human", "value": "..."},
// {"from": "gpt", "value": "..."}, ...]} (other keys, such as "id", are
// ignored). A conversation's prompt is its first turn, which must be the
// human's; its reference reply is the turn after it, when that is the
// model's.
//
// Read keeps every usable conversation, in file order, and counts the
// others by reason ([Skipped]): a malformed entry is skipped, never fatal;
// only a file that is not such a list is an error.
package sharegpt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Reasons a conversation is skipped. The workload layer adds the reasons
// that need the tokenizer (lengths, duplicates).
const (
	// SkipNotObject: the entry is not a JSON object.
	SkipNotObject = "not_an_object"
	// SkipNoConversations: no "conversations" list, or an empty one.
	SkipNoConversations = "no_conversations"
	// SkipBadTurn: a turn that is not an object with string "from" and
	// "value", among the first two.
	SkipBadTurn = "malformed_turn"
	// SkipFirstNotHuman: the first turn is not the human's.
	SkipFirstNotHuman = "first_turn_not_human"
	// SkipEmptyPrompt: the first turn's text is empty or only white space.
	SkipEmptyPrompt = "empty_prompt"
)

// Conversation is one usable entry: its prompt and, when the file has it,
// the reply it got.
type Conversation struct {
	// Entry is the conversation's position in the file's list, from 0.
	Entry int
	// Prompt is the first human turn's text.
	Prompt string
	// Reply is the model's answer to it (the second turn, from "gpt" or
	// "chatgpt" or "bard" or "assistant"); HasReply says whether there is
	// one.
	Reply    string
	HasReply bool
}

// File is what Read found in a ShareGPT file.
type File struct {
	// SHA256 is the hash of the file's bytes, lowercase hex.
	SHA256 string
	// Entries is the length of the file's list.
	Entries int
	// Conversations are the usable entries, in file order.
	Conversations []Conversation
	// Skipped counts the other entries by reason.
	Skipped map[string]int
}

// humanRoles and modelRoles are the "from" values of the ShareGPT dumps in
// circulation.
var (
	humanRoles = map[string]bool{"human": true, "user": true}
	modelRoles = map[string]bool{"gpt": true, "chatgpt": true, "bard": true, "assistant": true, "model": true}
)

// Read reads the ShareGPT file at path.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ShareGPT file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("ShareGPT file %s: %w", path, err)
	}
	return f, nil
}

// Parse reads a ShareGPT document from data.
func Parse(data []byte) (*File, error) {
	sum := sha256.Sum256(data)
	var entries []json.RawMessage
	if err := json.Unmarshal(data, &entries); err != nil {
		what := "not valid JSON"
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '[' && json.Valid(t) {
			what = "a JSON document, but not a list"
		}
		return nil, fmt.Errorf("%s (%v): want a JSON list of conversations, each {\"conversations\": [{\"from\": \"human\", \"value\": \"...\"}, ...]}", what, err)
	}
	f := &File{SHA256: hex.EncodeToString(sum[:]), Entries: len(entries), Skipped: map[string]int{}}
	for i, raw := range entries {
		c, reason := conversation(raw)
		if reason != "" {
			f.Skipped[reason]++
			continue
		}
		c.Entry = i
		f.Conversations = append(f.Conversations, c)
	}
	return f, nil
}

type turn struct {
	From  *string `json:"from"`
	Value *string `json:"value"`
}

// conversation reads one entry, or says why it is skipped.
func conversation(raw json.RawMessage) (Conversation, string) {
	var entry map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entry); err != nil || entry == nil {
		return Conversation{}, SkipNotObject
	}
	var turns []json.RawMessage
	if err := json.Unmarshal(entry["conversations"], &turns); err != nil || len(turns) == 0 {
		return Conversation{}, SkipNoConversations
	}
	first, ok := turnOf(turns[0])
	if !ok {
		return Conversation{}, SkipBadTurn
	}
	if !humanRoles[strings.ToLower(*first.From)] {
		return Conversation{}, SkipFirstNotHuman
	}
	if strings.TrimSpace(*first.Value) == "" {
		return Conversation{}, SkipEmptyPrompt
	}
	c := Conversation{Prompt: *first.Value}
	if len(turns) > 1 {
		second, ok := turnOf(turns[1])
		if !ok {
			return Conversation{}, SkipBadTurn
		}
		if modelRoles[strings.ToLower(*second.From)] {
			c.Reply, c.HasReply = *second.Value, true
		}
	}
	return c, ""
}

func turnOf(raw json.RawMessage) (turn, bool) {
	var t turn
	if err := json.Unmarshal(raw, &t); err != nil || t.From == nil || t.Value == nil {
		return turn{}, false
	}
	return t, true
}
