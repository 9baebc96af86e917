#!/usr/bin/env python3
"""A ragd client in Python: search a collection, then stream a grounded answer.

Uses the gRPC API (ragd.v1.Retrieval) through stubs generated from proto/ by protoc and
grpc_python_plugin; the build generates them (examples/python/CMakeLists.txt) and
tests/services/python_example_test runs this script against a real ragd, so it cannot rot.

    apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc
    protoc -I proto --python_out=gen --grpc_python_out=gen \\
        --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin proto/ragd/v1/*.proto
    PYTHONPATH=gen python3 examples/python/ask.py --collection docs "What is an embedding?"

The key, when ragd has API keys, comes from RAGD_API_KEY (sent as `authorization: Bearer`).
"""
import argparse
import os
import sys

import grpc

from ragd.v1 import retrieval_pb2, retrieval_pb2_grpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question")
    parser.add_argument("--target", default="127.0.0.1:50051", help="ragd's gRPC host:port")
    parser.add_argument("--collection", default="docs")
    parser.add_argument("--model", action="append", default=[],
                        help="a model of the catalog; repeat to compare (default: ragd's default)")
    parser.add_argument("-k", type=int, default=5, help="chunks to show from the search")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    args = parser.parse_args()

    key = os.environ.get("RAGD_API_KEY", "")
    metadata = [("authorization", f"Bearer {key}")] if key else []
    with grpc.insecure_channel(args.target) as channel:
        stub = retrieval_pb2_grpc.RetrievalStub(channel)
        try:
            # 1. Search: the chunks ragd would ground an answer in.
            found = stub.Retrieve(
                retrieval_pb2.RetrieveRequest(collection=args.collection, query=args.question,
                                              k=args.k),
                metadata=metadata, timeout=args.timeout)
            print(f"Search ({found.embedder}):")
            for i, chunk in enumerate(found.chunks, 1):
                where = " > ".join(chunk.citation.heading_path) or chunk.citation.title
                print(f"  {i}. {chunk.score:.4f}  {chunk.id}  {where}")

            # 2. Answer: sources first, then each model's text as it streams, then its totals.
            request = retrieval_pb2.AnswerRequest(collection=args.collection,
                                                  question=args.question, models=args.model)
            several = len(args.model) > 1
            for event in stub.Answer(request, metadata=metadata, timeout=args.timeout):
                kind = event.WhichOneof("event")
                if kind == "sources":
                    print(f"\nAnswer ({len(event.sources.sources)} sources):")
                elif kind == "delta":
                    text = f"[{event.delta.model}] {event.delta.text}\n" if several else event.delta.text
                    sys.stdout.write(text)
                    sys.stdout.flush()
                elif kind == "final":
                    f = event.final
                    if f.status_code != 0:
                        print(f"\n{f.model}: failed: {f.status_message}", file=sys.stderr)
                        return 1
                    print(f"\n\n{f.model}: first token {f.time_to_first_token_us / 1000:.0f} ms, "
                          f"total {f.latency_us / 1000:.0f} ms, tokens {f.usage.prompt_tokens} + "
                          f"{f.usage.completion_tokens}, ${f.cost_usd:.6f}")
        except grpc.RpcError as e:
            print(f"ragd: {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
