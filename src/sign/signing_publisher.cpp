#include "cmop/sign/signing_publisher.hpp"

namespace cmop::sign {
namespace {

class SigningPublisher final : public publish::Publisher {
 public:
  SigningPublisher(std::shared_ptr<const SigningKey> key, std::shared_ptr<publish::Publisher> inner)
      : key_(std::move(key)), inner_(std::move(inner)) {}

  void publish(const package::Package& pkg, bool replace) override {
    package::Package signed_pkg = pkg;
    signed_pkg.provenance = provenance(*key_, pkg);
    inner_->publish(signed_pkg, replace);
  }
  void remove(const std::string& name, const std::string& version) override { inner_->remove(name, version); }
  void remove_exact(const std::string& name, const std::string& version, const std::string& digest) override {
    inner_->remove_exact(name, version, digest);
  }
  std::string fetch(const std::string& name, const std::string& version) override {
    return inner_->fetch(name, version);
  }
  std::string describe() const override { return inner_->describe() + ", signed by " + key_->fingerprint(); }
  void probe() override { inner_->probe(); }
  void begin_batch() override { inner_->begin_batch(); }
  void end_batch() override { inner_->end_batch(); }
  void flush() override { inner_->flush(); }

 private:
  std::shared_ptr<const SigningKey> key_;
  std::shared_ptr<publish::Publisher> inner_;
};

}  // namespace

std::unique_ptr<publish::Publisher> make_signing_publisher(std::shared_ptr<const SigningKey> key,
                                                           std::shared_ptr<publish::Publisher> inner) {
  return std::make_unique<SigningPublisher>(std::move(key), std::move(inner));
}

}  // namespace cmop::sign
