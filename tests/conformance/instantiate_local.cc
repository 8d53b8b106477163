#include "tests/conformance/store_conformance.h"

namespace lufd::testing {
INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, SignatureTableConformanceTest,
                         ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, SecretsConformanceTest,
                         ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });
}  // namespace lufd::testing
