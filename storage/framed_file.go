package storage

// Small whole-file formats (the manifest, people files) share one frame:
//
//	+----------+----------------+------------------+----------------+
//	| magic    | length uint32  | CRC-32C uint32   | body           |
//	| 8 bytes  | LE, of body    | LE, of body      | length bytes   |
//	+----------+----------------+------------------+----------------+

import (
	"encoding/binary"
	"fmt"
	"io"
)

const framedHeaderBytes = 16

// encodeFramed frames body under an 8-byte magic.
func encodeFramed(magic string, body []byte) []byte {
	if len(magic) != 8 {
		panic("BUG: frame magic must be 8 bytes: " + magic)
	}
	buf := make([]byte, 0, framedHeaderBytes+len(body))
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.LittleEndian.AppendUint32(buf, checksum(body))
	return append(buf, body...)
}

// decodeFramed checks the frame of data (read from file name) and
// returns its body; damage is a CorruptionError.
func decodeFramed(data []byte, magic, name string) ([]byte, error) {
	if len(data) < framedHeaderBytes || string(data[:8]) != magic {
		return nil, corruptf(name, 0, "bad magic (want %s) or shorter than its %d-byte header", magic, framedHeaderBytes)
	}
	n := binary.LittleEndian.Uint32(data[8:])
	if int64(n) != int64(len(data)-framedHeaderBytes) {
		return nil, corruptf(name, 8, "body length %d does not match file size %d", n, len(data))
	}
	body := data[framedHeaderBytes:]
	if sum, got := binary.LittleEndian.Uint32(data[12:]), checksum(body); sum != got {
		return nil, corruptf(name, framedHeaderBytes, "checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	return body, nil
}

// readFramedFile reads and checks a framed file.
func readFramedFile(fs FS, path, magic string) ([]byte, error) {
	data, err := readWholeFile(fs, path)
	if err != nil {
		return nil, err
	}
	return decodeFramed(data, magic, path)
}

func readWholeFile(fs FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
