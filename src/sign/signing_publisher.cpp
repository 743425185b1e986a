#include "cmop/sign/signing_publisher.hpp"

namespace cmop::sign {
namespace {

class SigningPublisher final : public publish::Publisher {
 public:
  SigningPublisher(std::shared_ptr<const SigningKey> key, std::shared_ptr<publish::Publisher> inner)
      : key_(std::move(key)), inner_(std::move(inner)) {}

  void publish(const package::Package& pkg, bool replace) override { inner_->publish(sign(pkg), replace); }
  // The signature is the same for the same package (its time is the commit's), so
  // the target holds a signed package when it holds these bytes with this .prov.
  bool holds(const package::Package& pkg) override { return inner_->holds(sign(pkg)); }
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
  package::Package sign(const package::Package& pkg) const {
    package::Package with_signature = pkg;
    with_signature.provenance = provenance(*key_, pkg);
    return with_signature;
  }

  std::shared_ptr<const SigningKey> key_;
  std::shared_ptr<publish::Publisher> inner_;
};

}  // namespace

std::unique_ptr<publish::Publisher> make_signing_publisher(std::shared_ptr<const SigningKey> key,
                                                           std::shared_ptr<publish::Publisher> inner) {
  return std::make_unique<SigningPublisher>(std::move(key), std::move(inner));
}

}  // namespace cmop::sign
