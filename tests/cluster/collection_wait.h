#pragma once
// WaitForCollection: for cluster tests that create a collection through one ragd pod and then
// use it through another.

#include <chrono>
#include <string>
#include <thread>

#include "ragd/v1/collections.grpc.pb.h"
#include "tests/testing/ragd_process.h"

namespace ragd::testing {

// Waits (bounded: 30 s) until `pod` has applied the catalog entry that creates `name`. Only the
// pod that took CreateCollection holds the collection when it answers; the others apply the
// catalog stream as they catch up (README "Cluster mode"). Writes through them catch up
// themselves (cluster/README, writer.h), but reads and GetCollection answer from what the pod
// holds, so tests that read through other pods wait for each of them first.
inline bool WaitForCollection(const RagdProcess& pod, const std::string& name) {
  auto collections = v1::Collections::NewStub(pod.channel());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetCollectionRequest get;
    get.set_name(name);
    v1::GetCollectionResponse info;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (collections->GetCollection(&context, get, &info).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace ragd::testing
