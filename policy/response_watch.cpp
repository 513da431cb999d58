#include "policy/response_watch.hpp"

#include "policy/http_chars.hpp"
#include "policy/http_field.hpp"

#include <brotli/decode.h>
#include <zlib.h>

#include <array>
#include <cstdlib>
#include <cstring>

namespace trproxy::policy {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && chars::is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && chars::is_ows(text.back())) text.remove_suffix(1);
  return text;
}

BodyText body_text_of(std::string_view content_type) {
  const auto media = trim(content_type.substr(0, content_type.find(';')));
  if (chars::iequals(media, "text/html") || chars::iequals(media, "application/xhtml+xml")) return BodyText::html;
  constexpr std::string_view json_suffix = "+json";
  if (chars::iequals(media, "application/json") || chars::iequals(media, "text/json") ||
      (media.size() > json_suffix.size() &&
       chars::iequals(media.substr(media.size() - json_suffix.size()), json_suffix))) {
    return BodyText::json;
  }
  return BodyText::other;
}

ContentCoding coding_of(std::string_view value) {
  value = trim(value);
  if (value.empty() || chars::iequals(value, "identity")) return ContentCoding::identity;
  if (chars::iequals(value, "gzip") || chars::iequals(value, "x-gzip")) return ContentCoding::gzip;
  if (chars::iequals(value, "deflate")) return ContentCoding::deflate;
  if (chars::iequals(value, "br")) return ContentCoding::br;
  return ContentCoding::other;  // a list of codings, or one we cannot undo: not scanned
}

}  // namespace

ResponseFacts read_response_facts(std::string_view head) {
  ResponseFacts facts;
  unsigned encodings = 0;
  std::size_t pos = head.find("\r\n");  // past the status line
  if (pos == std::string_view::npos) return facts;
  pos += 2;
  while (pos < head.size() && head[pos] != '\r') {
    detail::FieldLine line;
    HeadError error = HeadError::none;
    if (detail::scan_field_line(head, pos, line, error) != ScanStatus::complete) break;
    pos = line.end;
    if (chars::iequals(line.name, "content-type")) {
      facts.text = body_text_of(line.value);
    } else if (chars::iequals(line.name, "content-encoding")) {
      facts.coding = ++encodings == 1 ? coding_of(line.value) : ContentCoding::other;
    } else if (chars::iequals(line.name, "restrict-access-confirm")) {
      facts.restrict_access_confirm = true;
    }
  }
  return facts;
}

bool DecodeBudget::take(std::size_t bytes) {
  auto used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

// zlib or brotli behind one interface; every allocation is counted against the watch's own
// cap and the shared budget, and refused beyond either.
struct BodyWatch::Decoder {
  Decoder(ContentCoding coding, DecodeBudget& shared, std::size_t cap) : coding(coding), budget(shared), cap(cap) {
    if (coding == ContentCoding::br) {
      brotli = BrotliDecoderCreateInstance(&allocate, &release, this);
      ok = brotli != nullptr;
    } else {
      zlib.zalloc = [](void* self, uInt items, uInt size) -> void* {
        return allocate(self, static_cast<std::size_t>(items) * size);
      };
      zlib.zfree = [](void* self, void* address) { release(self, address); };
      zlib.opaque = this;
      // gzip: a gzip header. deflate: the zlib format (RFC 9110), or raw deflate as some servers
      // send it; which one is decided by the first two bytes (see start_deflate).
      if (coding == ContentCoding::gzip) {
        ok = inflateInit2(&zlib, 15 + 16) == Z_OK;
        zlib_ready = ok;
      } else {
        ok = true;
      }
    }
  }
  ~Decoder() {
    if (brotli != nullptr) BrotliDecoderDestroyInstance(brotli);
    if (zlib_ready) inflateEnd(&zlib);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Each block carries its size in front, since zlib and brotli free without one.
  static constexpr std::size_t header = alignof(std::max_align_t);
  static void* allocate(void* opaque, std::size_t size) {
    auto& self = *static_cast<Decoder*>(opaque);
    const auto total = size + header;
    if (self.used + total > self.cap || !self.budget.take(total)) {
      self.out_of_memory = true;
      return nullptr;
    }
    auto* block = static_cast<unsigned char*>(std::malloc(total));
    if (block == nullptr) {
      self.budget.give(total);
      return nullptr;
    }
    std::memcpy(block, &total, sizeof total);
    self.used += total;
    return block + header;
  }
  static void release(void* opaque, void* address) {
    if (address == nullptr) return;
    auto& self = *static_cast<Decoder*>(opaque);
    auto* block = static_cast<unsigned char*>(address) - header;
    std::size_t total = 0;
    std::memcpy(&total, block, sizeof total);
    self.used -= total;
    self.budget.give(total);
    std::free(block);
  }

  // A zlib header is two bytes whose first names deflate with a window of at most 32 KiB and
  // whose big-endian value is a multiple of 31 (RFC 1950); anything else is taken as raw deflate.
  bool start_deflate(std::string_view input, std::string_view& rest) {
    while (head_bytes < 2 && !input.empty()) {
      head[head_bytes++] = input.front();
      input.remove_prefix(1);
    }
    rest = input;
    if (head_bytes < 2) return false;
    const auto b0 = static_cast<unsigned char>(head[0]);
    const auto b1 = static_cast<unsigned char>(head[1]);
    const bool zlib_format = (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
    zlib_ready = inflateInit2(&zlib, zlib_format ? 15 : -15) == Z_OK;
    return zlib_ready;
  }

  // Decodes `input` into text for `sink`. False when decoding ended (the stream's end or an
  // error; `error` says which).
  template <class Sink>
  bool decode(std::string_view input, Sink&& sink, bool& error) {
    if (coding == ContentCoding::deflate && !zlib_ready) {
      std::string_view rest;
      if (!start_deflate(input, rest)) {
        error = head_bytes == 2;  // no memory for the state; else: waiting for the second byte
        return !error;
      }
      // The two held bytes first, then the rest of this piece.
      const std::string_view held(head.data(), 2);
      if (!inflate_into(held, sink, error)) return false;
      return inflate_into(rest, sink, error);
    }
    return coding == ContentCoding::br ? brotli_into(input, sink, error) : inflate_into(input, sink, error);
  }

  template <class Sink>
  bool brotli_into(std::string_view input, Sink&& sink, bool& error) {
    std::array<char, 4096> out;
    auto available_in = input.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(input.data());
    for (;;) {
      auto available_out = out.size();
      auto* next_out = reinterpret_cast<std::uint8_t*>(out.data());
      const auto result =
          BrotliDecoderDecompressStream(brotli, &available_in, &next_in, &available_out, &next_out, nullptr);
      if (const auto n = out.size() - available_out; n > 0 && !sink(std::string_view(out.data(), n))) return false;
      if (result == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) continue;
      if (result == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return true;
      error = result == BROTLI_DECODER_RESULT_ERROR;
      return false;
    }
  }

  template <class Sink>
  bool inflate_into(std::string_view input, Sink&& sink, bool& error) {
    std::array<char, 4096> out;
    zlib.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    zlib.avail_in = static_cast<uInt>(input.size());
    for (;;) {
      zlib.next_out = reinterpret_cast<Bytef*>(out.data());
      zlib.avail_out = static_cast<uInt>(out.size());
      const int result = inflate(&zlib, Z_NO_FLUSH);
      if (const auto n = out.size() - zlib.avail_out; n > 0 && !sink(std::string_view(out.data(), n))) return false;
      if (result == Z_STREAM_END) return false;
      if (result == Z_BUF_ERROR || (result == Z_OK && zlib.avail_in == 0 && zlib.avail_out != 0)) return true;
      if (result != Z_OK) break;
    }
    error = true;  // Z_MEM_ERROR included: out_of_memory says which
    return false;
  }

  ContentCoding coding;
  DecodeBudget& budget;
  std::size_t cap;
  std::size_t used = 0;
  bool ok = false;
  bool zlib_ready = false;
  std::array<char, 2> head{};  // deflate: the first two bytes, until the format is known
  std::size_t head_bytes = 0;
  bool out_of_memory = false;
  z_stream zlib{};
  BrotliDecoderState* brotli = nullptr;
};

BodyWatch::BodyWatch(HostClass host_class, ContentCoding coding, DecodeBudget& budget, WatchLimits limits)
    : matcher_(host_class), limits_(limits) {
  if (coding == ContentCoding::other) {
    stop(Stop::undecodable);
  } else if (coding != ContentCoding::identity) {
    decoder_ = std::make_unique<Decoder>(coding, budget, limits_.decoder_bytes);
    if (!decoder_->ok) stop(Stop::no_memory);
  }
}

BodyWatch::~BodyWatch() = default;

void ResponseWatch::head(std::string_view head_bytes) {
  facts_ = read_response_facts(head_bytes);
  body_.reset();
  if (search_body_ && facts_.text != BodyText::other && !block_codes_for(host_class_).empty()) {
    body_ = std::make_unique<BodyWatch>(host_class_, facts_.coding, budget_);
  }
}

std::string_view to_string(BodyWatch::Stop stop) {
  switch (stop) {
    case BodyWatch::Stop::none: return "body searched to its end";
    case BodyWatch::Stop::found: return "code found";
    case BodyWatch::Stop::text_limit: return "first 64 KiB searched";
    case BodyWatch::Stop::encoded_limit: return "encoded-input limit reached";
    case BodyWatch::Stop::stream_end: return "end of the encoded stream";
    case BodyWatch::Stop::decoding_error: return "decoding error";
    case BodyWatch::Stop::no_memory: return "decoder memory budget exhausted";
    case BodyWatch::Stop::undecodable: return "content coding not decodable";
  }
  return "stopped";
}

void BodyWatch::text(std::string_view decoded) {
  const auto room = limits_.text_bytes - text_seen_;
  if (decoded.size() >= room) {
    decoded = decoded.substr(0, room);
    stop(Stop::text_limit);
  }
  text_seen_ += decoded.size();
  if (matcher_.feed(decoded)) stopped_ = Stop::found;
}

void BodyWatch::payload(std::string_view bytes) {
  if (stopped_ != Stop::none || bytes.empty()) return;
  if (!decoder_) {
    text(bytes);
    return;
  }
  // A decompression bomb ends at 64 KiB of text; input that yields no text ends here.
  bool last = false;
  if (bytes.size() >= limits_.encoded_bytes - encoded_seen_) {
    bytes = bytes.substr(0, limits_.encoded_bytes - encoded_seen_);
    last = true;
  }
  encoded_seen_ += bytes.size();
  bool error = false;
  const bool more = decoder_->decode(
      bytes,
      [this](std::string_view decoded) {
        text(decoded);
        return stopped_ == Stop::none;
      },
      error);
  if (!more) stop(error ? (decoder_->out_of_memory ? Stop::no_memory : Stop::decoding_error) : Stop::stream_end);
  if (last) stop(Stop::encoded_limit);
  if (stopped_ != Stop::none) decoder_.reset();  // its memory goes back now, not when the response ends
}

void BodyWatch::finish() {
  // The text ended (or was cut at a limit, taken as its end): a code in its last bytes is
  // decided now.
  matcher_.finish();
  decoder_.reset();
}

}  // namespace trproxy::policy
