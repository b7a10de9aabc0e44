package workload

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// hashMagic starts every hashed byte stream (domain separation and version).
const hashMagic = "enginebench/workload/v1\n"

// Hash returns the workload hash of prompts, as 64 lowercase hex digits: the
// SHA-256 of this byte string, where u32(x) is x as 4 little-endian bytes:
//
//	"enginebench/workload/v1\n"            24 ASCII bytes, ending in a newline
//	u32(number of prompts)
//	for each prompt, in order:
//	    u32(number of tokens in the prompt)
//	    u32(id) for each token id, in order
//
// It covers the token ids and their order only, not the spec or the cells,
// so it proves that two engines were given the same prompts. Recomputed in
// Python:
//
//	import hashlib, struct
//	def workload_sha256(prompts):
//	    h = hashlib.sha256(b"enginebench/workload/v1\n")
//	    h.update(struct.pack("<I", len(prompts)))
//	    for p in prompts:
//	        h.update(struct.pack("<I", len(p)))
//	        h.update(struct.pack(f"<{len(p)}I", *p))
//	    return h.hexdigest()
//
// For example workload_sha256([[0, 1, 2], [128255, 7]]) is
// "dbc04cc7c9c80927a50078f6cd5de83e9b3209804a76dc14b039196cde31405c".
// Token ids are non-negative, below 2^31.
func Hash(prompts [][]int32) string { return HashWithOutputs(prompts, nil) }

// HashWithOutputs is the workload hash of prompts whose requests generate
// outputLens[i] tokens each (a ShareGPT workload with reference output
// lengths). With nil outputLens it is Hash(prompts); otherwise the byte
// string above continues with
//
//	"output_lens\n"                        12 ASCII bytes
//	u32(number of lengths)
//	u32(length) for each prompt, in order
//
// so the hash also proves that every engine generated the same lengths. In
// Python, after the prompts:
//
//	if output_lens is not None:
//	    h.update(b"output_lens\n")
//	    h.update(struct.pack("<I", len(output_lens)))
//	    h.update(struct.pack(f"<{len(output_lens)}I", *output_lens))
func HashWithOutputs(prompts [][]int32, outputLens []int) string {
	h := sha256.New()
	h.Write([]byte(hashMagic))
	var buf []byte
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(prompts)))
	h.Write(buf)
	for _, p := range prompts {
		buf = buf[:0]
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p)))
		for _, id := range p {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
		}
		h.Write(buf)
	}
	if outputLens != nil {
		buf = append(buf[:0], "output_lens\n"...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(outputLens)))
		for _, n := range outputLens {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
