package replication

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"arb/storage"
)

// The forwarding service: a follower hands a prepared write to the leader
// (Apply) and asks it how far a read must wait (ReadIndex). Messages are
// raw bytes (rawCodec), so no generated code is needed:
//
//	Apply:     request = the record; reply = u64 index | u8 refused | refusal text
//	ReadIndex: request = empty;      reply = u64 index
const forwardService = "arb.replication.Forward"

// maxMessageBytes bounds a message of the service: a forwarded write is
// at most storage.MaxLogRecordBytes (gRPC's default is 4 MiB).
const maxMessageBytes = storage.MaxLogRecordBytes + 1<<20

// frame is a message of the forwarding service.
type frame struct{ b []byte }

// rawCodec marshals frames as their bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return f.b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	f.b = append(f.b[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "arb-raw" }

// forwardServer is what the service calls on the node that receives it.
type forwardServer interface {
	applyAsLeader(ctx context.Context, payload []byte) (index uint64, refusal error, err error)
	readIndexAsLeader(ctx context.Context) (uint64, error)
	changeMembership(ctx context.Context, req memberRequest) error
	serveBackup(w io.Writer) error
	FullStatus() Status
}

func newForwardGRPC(srv forwardServer) *grpc.Server {
	g := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: forwardService,
		HandlerType: (*forwardServer)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Apply", Handler: func(s any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in frame
				if err := dec(&in); err != nil {
					return nil, err
				}
				index, refusal, err := s.(forwardServer).applyAsLeader(ctx, in.b)
				if err != nil {
					return nil, leaderStatus(err)
				}
				out := binary.BigEndian.AppendUint64(nil, index)
				if refusal != nil {
					out = append(append(out, 1), refusal.Error()...)
				} else {
					out = append(out, 0)
				}
				return &frame{b: out}, nil
			}},
			{MethodName: "ReadIndex", Handler: func(s any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in frame
				if err := dec(&in); err != nil {
					return nil, err
				}
				index, err := s.(forwardServer).readIndexAsLeader(ctx)
				if err != nil {
					return nil, leaderStatus(err)
				}
				return &frame{b: binary.BigEndian.AppendUint64(nil, index)}, nil
			}},
			{MethodName: "Status", Handler: func(s any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in frame
				if err := dec(&in); err != nil {
					return nil, err
				}
				out, err := json.Marshal(s.(forwardServer).FullStatus())
				if err != nil {
					return nil, status.Error(codes.Internal, err.Error())
				}
				return &frame{b: out}, nil
			}},
			{MethodName: "Member", Handler: func(s any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var in frame
				if err := dec(&in); err != nil {
					return nil, err
				}
				var req memberRequest
				if err := json.Unmarshal(in.b, &req); err != nil || req.ID == "" {
					return nil, status.Errorf(codes.InvalidArgument, "member request %q: want {\"id\", \"addr\"}", in.b)
				}
				if err := s.(forwardServer).changeMembership(ctx, req); err != nil {
					return nil, leaderStatus(err)
				}
				return &frame{}, nil
			}},
		},
		Streams: []grpc.StreamDesc{
			{StreamName: "Backup", ServerStreams: true, Handler: func(s any, stream grpc.ServerStream) error {
				var in frame
				if err := stream.RecvMsg(&in); err != nil {
					return err
				}
				w := &streamWriter{stream: stream}
				if err := s.(forwardServer).serveBackup(w); err != nil {
					return status.Errorf(codes.Internal, "backup: %v", err)
				}
				return w.flush()
			}},
		},
	}, srv)
	return g
}

// streamWriter sends what is written to it as frames of backupChunk bytes.
type streamWriter struct {
	stream grpc.ServerStream
	buf    []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), backupChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == backupChunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *streamWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	// gRPC may read a message after SendMsg returns: a new buffer each.
	err := w.stream.SendMsg(&frame{b: w.buf})
	w.buf = nil
	return err
}

// errNotLeader: the node asked is not the leader (any more); the caller
// asks the leader it names now. Nothing was appended.
var errNotLeader = errors.New("not the leader")

func leaderStatus(err error) error {
	if errors.Is(err, errNotLeader) {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// peerClients keeps one gRPC connection per peer address.
type peerClients struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func (p *peerClients) conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			timeout := 2 * time.Second
			if d, ok := ctx.Deadline(); ok {
				timeout = time.Until(d)
			}
			return dialProto(a, protoGRPC, timeout)
		}))
	if err != nil {
		return nil, err
	}
	if p.conns == nil {
		p.conns = map[string]*grpc.ClientConn{}
	}
	p.conns[addr] = c
	return c, nil
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// forwardApply asks the leader at addr to append payload.
func (p *peerClients) forwardApply(ctx context.Context, addr string, payload []byte) (index uint64, refusal string, refused bool, err error) {
	c, err := p.conn(addr)
	if err != nil {
		return 0, "", false, err
	}
	var out frame
	if err := c.Invoke(ctx, "/"+forwardService+"/Apply", &frame{b: payload}, &out); err != nil {
		return 0, "", false, fromStatus(err)
	}
	if len(out.b) < 9 {
		return 0, "", false, fmt.Errorf("forwarded apply: short reply (%d bytes)", len(out.b))
	}
	return binary.BigEndian.Uint64(out.b), string(out.b[9:]), out.b[8] == 1, nil
}

// forwardReadIndex asks the leader at addr for its read index.
func (p *peerClients) forwardReadIndex(ctx context.Context, addr string) (uint64, error) {
	c, err := p.conn(addr)
	if err != nil {
		return 0, err
	}
	var out frame
	if err := c.Invoke(ctx, "/"+forwardService+"/ReadIndex", &frame{}, &out); err != nil {
		return 0, fromStatus(err)
	}
	if len(out.b) != 8 {
		return 0, fmt.Errorf("forwarded read index: reply of %d bytes", len(out.b))
	}
	return binary.BigEndian.Uint64(out.b), nil
}

// fromStatus maps the service's errors back: a node that is not the
// leader, or one that could not be reached at all (the request never
// left: its leader died and no new one is known yet), is errNotLeader —
// nothing was appended, ask again. Any other failure leaves the outcome
// unknown.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	switch {
	case ok && st.Code() == codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", errNotLeader, st.Message())
	case ok && st.Code() == codes.Unavailable && strings.Contains(st.Message(), "while dialing"):
		return fmt.Errorf("%w: leader unreachable: %s", errNotLeader, st.Message())
	}
	return err
}

// peerStatus asks the member at addr for its Status.
func (p *peerClients) peerStatus(ctx context.Context, addr string) (Status, error) {
	var st Status
	c, err := p.conn(addr)
	if err != nil {
		return st, err
	}
	var out frame
	if err := c.Invoke(ctx, "/"+forwardService+"/Status", &frame{}, &out); err != nil {
		return st, err
	}
	return st, json.Unmarshal(out.b, &st)
}
