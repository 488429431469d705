// Configuration to delivery options: the compression keys reach every batch's request (and apply on
// reload, which builds the options again from the new configuration).
#include "agent/app/wiring.h"

#include <gtest/gtest.h>

namespace opescare::app {
namespace {

TEST(Wiring, CompressionAndItsLevelReachTheDeliveryOptions) {
  config::Config cfg;
  EXPECT_EQ(DeliveryOptionsFromConfig(cfg).compression_level, static_cast<int>(cfg.http.compression_level));
  EXPECT_EQ(DeliveryOptionsFromConfig(cfg).compression_level, http::kDefaultGzipLevel);  // one default, not two
  cfg.http.compression = "none";
  cfg.http.compression_level = 11;
  delivery::DeliveryOptions o = DeliveryOptionsFromConfig(cfg);
  EXPECT_EQ(o.compression, "none");
  EXPECT_EQ(o.compression_level, 11);
}

TEST(Wiring, TheConfigLevelRangeIsTheCompressorsRange) {
  config::Config cfg;
  for (uint32_t level : {1u, 12u}) {
    cfg.http.compression_level = level;
    int wired = DeliveryOptionsFromConfig(cfg).compression_level;
    EXPECT_GE(wired, http::kMinGzipLevel);
    EXPECT_LE(wired, http::kMaxGzipLevel);
  }
}

}  // namespace
}  // namespace opescare::app
