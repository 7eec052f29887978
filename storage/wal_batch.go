package storage

// EventBatch encoding: the WAL payload of one atomic ingest (and the body
// of people files). All varints are Go's encoding/binary varints.
//
//	batch:  | version byte (1) | str project | uvarint n | event × n |
//	event:  | varint time ms | str name | str distinct_id | str insert_id |
//	        | uvarint props | prop × props |
//	prop:   | str key | type byte (ColumnType) | value |
//	value:  bool, int, time: varint; float: 8 bytes IEEE 754 LE;
//	        string, json: str; null: nothing
//	str:    | uvarint length | bytes |
//
// Wire format: never renumber or reorder.

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

const eventBatchVersion = 1

// EventBatch is one atomic ingest for one project: all rows of one INSERT
// or one HTTP request. Either all of it is replayed or none.
type EventBatch struct {
	Project string
	Events  []Event
}

// AppendEventBatch appends the encoding of b to dst.
func AppendEventBatch(dst []byte, b *EventBatch) []byte {
	dst = append(dst, eventBatchVersion)
	dst = batchAppendString(dst, b.Project)
	dst = binary.AppendUvarint(dst, uint64(len(b.Events)))
	for i := range b.Events {
		e := &b.Events[i]
		dst = binary.AppendVarint(dst, e.TimeMillis)
		dst = batchAppendString(dst, e.Name)
		dst = batchAppendString(dst, e.DistinctID)
		dst = batchAppendString(dst, e.InsertID)
		dst = appendProps(dst, e.Props)
	}
	return dst
}

// appendProps appends | uvarint props | prop × props |.
func appendProps(dst []byte, props []Prop) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(props)))
	for _, p := range props {
		dst = batchAppendString(dst, p.Key)
		dst = append(dst, byte(p.Value.Type))
		switch p.Value.Type {
		case TypeBool, TypeInt, TypeTime:
			dst = binary.AppendVarint(dst, p.Value.Int)
		case TypeFloat:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Value.Float))
		case TypeString, TypeJSON:
			dst = batchAppendString(dst, p.Value.Str)
		}
	}
	return dst
}

func batchAppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// batchDecoder reads an encoding, keeping the first error.
type batchDecoder struct {
	src []byte
	off int
	err error
	// carve is set by DecodeEventBatch: props then carves events from
	// blocks, so that a batch of 2,000 events costs a few allocations
	// rather than ten per event. arena holds the string values (bytes
	// written to it never change, so strings taken from it stay valid as
	// it grows within its capacity), keys one copy of each property key,
	// propBlock the Props of the events to come, eventsLeft counts the
	// events still to decode (the current one included) to size blocks.
	carve      bool
	arena      strings.Builder
	keys       map[string]string
	propBlock  []Prop
	eventsLeft int
}

func (d *batchDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("event batch at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *batchDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.src[d.off:])
	if n <= 0 {
		d.fail("bad unsigned varint")
		return 0
	}
	d.off += n
	return v
}

func (d *batchDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.src[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *batchDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.src)-d.off) {
		d.fail("string of %d bytes runs past the end (%d left)", n, len(d.src)-d.off)
		return ""
	}
	s := string(d.src[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

// arenaBlockBytes and propBlockLen size the blocks batchDecoder carves
// events from: one block serves some hundred events. The events of a
// batch are stored, and dropped at a flush, together, so sharing blocks
// among them holds little more memory than an allocation each would.
const (
	arenaBlockBytes = 32 << 10
	propBlockLen    = 4096
)

// ownString is string, with the bytes copied into d.arena instead of an
// allocation of their own.
func (d *batchDecoder) ownString() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.src)-d.off) {
		d.fail("string of %d bytes runs past the end (%d left)", n, len(d.src)-d.off)
		return ""
	}
	if n == 0 {
		return ""
	}
	b := &d.arena
	if b.Cap()-b.Len() < int(n) {
		// The old block stays with the strings that use it. The strings
		// to come fit in the bytes left, so a small batch (one /track
		// event) gets a small block.
		*b = strings.Builder{}
		b.Grow(max(int(n), min(arenaBlockBytes, len(d.src)-d.off)))
	}
	mark := b.Len()
	b.Write(d.src[d.off : d.off+int(n)])
	d.off += int(n)
	return b.String()[mark:]
}

// key is string for a property key: one copy per spelling and decoder.
func (d *batchDecoder) key() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.src)-d.off) {
		d.fail("string of %d bytes runs past the end (%d left)", n, len(d.src)-d.off)
		return ""
	}
	raw := d.src[d.off : d.off+int(n)]
	d.off += int(n)
	if k, ok := d.keys[string(raw)]; ok { // no allocation for the look-up
		return k
	}
	if d.keys == nil {
		d.keys = map[string]string{}
	}
	k := string(raw)
	d.keys[k] = k
	return k
}

// takeProps returns room for np Props that no other event shares (a
// capacity of exactly np, so an append moves them).
func (d *batchDecoder) takeProps(np int) []Prop {
	if len(d.propBlock)+np > cap(d.propBlock) {
		d.propBlock = make([]Prop, 0, max(np, min(propBlockLen, np*d.eventsLeft)))
	}
	start := len(d.propBlock)
	d.propBlock = d.propBlock[:start+np]
	return d.propBlock[start : start+np : start+np]
}

// count reads a count of items each at least minBytes long, refusing one
// the remaining bytes cannot hold, so that no huge allocation follows.
func (d *batchDecoder) count(what string, minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64((len(d.src)-d.off)/minBytes) {
		d.fail("%d %s cannot fit in %d bytes", n, what, len(d.src)-d.off)
		return 0
	}
	return int(n)
}

// DecodeEventBatch decodes an encoding made by AppendEventBatch. Malformed
// input gives an error naming the byte offset and event; it never panics.
func DecodeEventBatch(src []byte) (*EventBatch, error) {
	if len(src) == 0 || src[0] != eventBatchVersion {
		if len(src) == 0 {
			return nil, fmt.Errorf("event batch: empty")
		}
		return nil, fmt.Errorf("event batch: unknown version %d", src[0])
	}
	d := &batchDecoder{src: src, off: 1, carve: true}
	b := &EventBatch{Project: d.string()}
	n := d.count("events", 5)
	if d.err != nil {
		return nil, d.err
	}
	b.Events = make([]Event, n)
	for i := range b.Events {
		e := &b.Events[i]
		d.eventsLeft = n - i
		e.TimeMillis = d.varint()
		e.Name = d.ownString()
		e.DistinctID = d.ownString()
		e.InsertID = d.ownString()
		e.Props = d.props(i)
		if d.err != nil {
			return nil, fmt.Errorf("%w (event %d)", d.err, i)
		}
	}
	if d.off != len(src) {
		return nil, fmt.Errorf("event batch: %d bytes left over after %d events", len(src)-d.off, n)
	}
	return b, nil
}

// props reads appendProps' output; event numbers the errors. With
// d.carve the Props and strings come from d's blocks, else each from an
// allocation of its own.
func (d *batchDecoder) props(event int) []Prop {
	np := d.count("properties", 2)
	var props []Prop
	if np > 0 && d.err == nil {
		if d.carve {
			props = d.takeProps(np)
		} else {
			props = make([]Prop, np)
		}
	}
	src := d.src
	for j := 0; j < np && d.err == nil; j++ {
		p := &props[j]
		if d.carve {
			p.Key = d.key()
		} else {
			p.Key = d.string()
		}
		if d.err != nil {
			break
		}
		if d.off >= len(src) {
			d.fail("event %d: property %q has no type", event, p.Key)
			break
		}
		p.Value.Type = ColumnType(src[d.off])
		d.off++
		switch p.Value.Type {
		case TypeNull:
		case TypeBool, TypeInt, TypeTime:
			p.Value.Int = d.varint()
		case TypeFloat:
			if len(src)-d.off < 8 {
				d.fail("event %d: property %q: float cut short", event, p.Key)
				break
			}
			p.Value.Float = math.Float64frombits(binary.LittleEndian.Uint64(src[d.off:]))
			d.off += 8
		case TypeString, TypeJSON:
			if d.carve {
				p.Value.Str = d.ownString()
			} else {
				p.Value.Str = d.string()
			}
		default:
			d.fail("event %d: property %q has unknown type %d", event, p.Key, p.Value.Type)
		}
	}
	return props
}
