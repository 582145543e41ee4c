// gwgen without ports: stream and option parsing, sizes, pacing math, frames against an
// independent builder (tests/dataplane/packet_builder.h), the signature parser, sequence
// accounting, the RFC 2544 search over scripted trials, and EAL arguments.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pktgen/gwgen/eal_args.h"
#include "pktgen/gwgen/frame.h"
#include "pktgen/gwgen/pacing.h"
#include "pktgen/gwgen/rfc2544.h"
#include "pktgen/gwgen/seq_tracker.h"
#include "pktgen/gwgen/signature.h"
#include "pktgen/gwgen/size_model.h"
#include "pktgen/gwgen/spec.h"
#include "tests/dataplane/packet_builder.h"

namespace gw::gen {
namespace {

// ---- parsing -----------------------------------------------------------------

TEST(GwgenSpec, Rates) {
    struct Case {
        const char* text;
        RateUnit unit;
        double value;
    };
    const Case cases[] = {
        {"50000", RateUnit::pps, 50'000},  {"50kpps", RateUnit::pps, 50'000}, {"1.5Mpps", RateUnit::pps, 1.5e6},
        {"1.5mpps", RateUnit::pps, 1.5e6}, {"2Gbps", RateUnit::bps, 2e9},     {"100Mbps", RateUnit::bps, 100e6},
        {"10%", RateUnit::percent, 10},    {"100%", RateUnit::percent, 100},  {"0.5%", RateUnit::percent, 0.5},
        {"7pps", RateUnit::pps, 7},
    };
    for (const auto& c : cases) {
        auto r = parse_rate(c.text);
        ASSERT_TRUE(r) << c.text << ": " << r.error().message;
        EXPECT_EQ(r->unit, c.unit) << c.text;
        EXPECT_DOUBLE_EQ(r->value, c.value) << c.text;
        // What to_string writes, parse_rate reads back.
        auto back = parse_rate(to_string(*r));
        ASSERT_TRUE(back) << to_string(*r);
        EXPECT_EQ(*back, *r) << to_string(*r);
    }
    for (const char* bad : {"", "fast", "0", "-5kpps", "101%", "0.5pps", "10 kpps", "1Tbps", "100bps", "nan"}) {
        EXPECT_FALSE(parse_rate(bad)) << bad;
    }
}

TEST(GwgenSpec, Sizes) {
    auto fixed = parse_size("128");
    ASSERT_TRUE(fixed);
    EXPECT_EQ(fixed->kind, SizeKind::fixed);
    EXPECT_EQ(fixed->mean_size(), 128);

    auto range = parse_size("64-1518");
    ASSERT_TRUE(range);
    EXPECT_EQ(range->kind, SizeKind::range);
    EXPECT_EQ(range->min_size(), 64);
    EXPECT_EQ(range->max_size(), 1518);
    EXPECT_DOUBLE_EQ(range->mean_size(), 791);

    auto imix = parse_size("IMIX");
    ASSERT_TRUE(imix);
    EXPECT_EQ(imix->kind, SizeKind::mix);
    EXPECT_EQ(imix->mix, (std::vector<std::pair<uint16_t, uint32_t>>{{64, 7}, {576, 4}, {1500, 1}}));
    EXPECT_DOUBLE_EQ(imix->mean_size(), (64.0 * 7 + 576 * 4 + 1500) / 12);

    auto custom = parse_size("128:3,1400:1");
    ASSERT_TRUE(custom);
    EXPECT_EQ(custom->min_size(), 128);
    EXPECT_EQ(custom->max_size(), 1400);
    EXPECT_EQ(to_string(*custom), "128:3,1400:1");

    for (const char* bad : {"", "big", "64-", "-64", "64:x", "64:1,", "70000"}) {
        EXPECT_FALSE(parse_size(bad)) << bad;
    }
}

TEST(GwgenSpec, Ranges) {
    auto v4 = parse_addr_range("10.0.0.1-10.0.1.0");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->count, 256u);
    auto v6 = parse_addr_range("2001:db8::ff-2001:db8::1:2");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->count, 0x10003u - 0xff);
    EXPECT_FALSE(parse_addr_range("10.0.0.2-10.0.0.1"));
    EXPECT_FALSE(parse_addr_range("10.0.0.1-2001:db8::1"));
    EXPECT_FALSE(parse_addr_range("2001:db8::1-2001:db9::1"));  // beyond the low 32 bits
    EXPECT_FALSE(parse_addr_range("1.0.0.0-2.0.0.0"));          // more than 2^24
    auto ports = parse_port_range("1000-1099");
    ASSERT_TRUE(ports);
    EXPECT_EQ(ports->count, 100u);
    EXPECT_FALSE(parse_port_range("70000"));
    EXPECT_FALSE(parse_port_range("9-1"));
    auto lcores = parse_lcore_list("1,3-5");
    ASSERT_TRUE(lcores);
    EXPECT_EQ(*lcores, (std::vector<unsigned>{1, 3, 4, 5}));
    auto speed = parse_link_speed_mbps("10G");
    ASSERT_TRUE(speed);
    EXPECT_EQ(*speed, 10'000u);
    EXPECT_EQ(parse_link_speed_mbps("25000").value(), 25'000u);
}

TEST(GwgenSpec, StreamKeysAndDefaults) {
    auto s = parse_stream(
        "name=voice rate=20kpps size=imix count=1000 src=10.0.0.1-10.0.0.4 dst=10.1.0.1 sport=5000-5001 "
        "dport=53 payload=text dmac=02:00:00:00:01:01 port=1 lane=0 start=1 stop=3",
        "test");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->name, "voice");
    EXPECT_EQ(s->count, 1000u);
    EXPECT_EQ(s->src.count, 4u);
    EXPECT_EQ(s->sport.count, 2u);
    EXPECT_EQ(s->flow_count(), 8u);  // 4 sources x 2 source ports
    EXPECT_EQ(s->payload, Payload::text);
    EXPECT_EQ(s->port, 1);
    EXPECT_EQ(s->lane, 0);
    EXPECT_DOUBLE_EQ(s->stop_s, 3);
    EXPECT_FALSE(s->is_v6());

    auto v6 = parse_stream("ip=6 size=128", "test");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->is_v6());
    EXPECT_EQ(net::to_string(v6->src.first), "2001:2::1");

    // An IPv6 source makes the stream IPv6; the default destination follows.
    auto inferred = parse_stream("src=2001:db8::1 size=100", "test");
    ASSERT_TRUE(inferred) << inferred.error().message;
    EXPECT_TRUE(inferred->is_v6());
    EXPECT_FALSE(net::is_v4(inferred->dst.first));

    auto bad = parse_stream("rate=1kpps colour=red", "--stream #2");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "--stream #2: unknown key 'colour'");
    EXPECT_FALSE(parse_stream("ip=4 src=2001:db8::1", "t"));
    EXPECT_FALSE(parse_stream("rate", "t"));
    EXPECT_FALSE(parse_stream("flows=0", "t"));
}

TEST(GwgenSpec, ValidationNamesTheProblem) {
    auto check = [](const char* text) {
        auto s = parse_stream(text, "t");
        EXPECT_TRUE(s) << text;
        auto st = validate_stream(*s, "t");
        return st ? std::string() : st.error().message;
    };
    EXPECT_EQ(check("size=64"), "");
    EXPECT_NE(check("size=63").find("below IPv4's minimum of 64 bytes"), std::string::npos);
    EXPECT_NE(check("ip=6 size=imix").find("below IPv6's minimum of 84 bytes"), std::string::npos);
    EXPECT_EQ(check("ip=6 size=84:7,576:4,1500:1"), "");
    EXPECT_NE(check("size=9217").find("exceeds"), std::string::npos);
    EXPECT_NE(check("src=10.0.0.1-10.0.0.2 flows=3").find("only 2 distinct flows"), std::string::npos);
    EXPECT_NE(check("start=2 stop=1").find("not after"), std::string::npos);
    EXPECT_NE(check("sport=65535-65535 size=64-63").find("empty"), std::string::npos);
}

TEST(GwgenSpec, ProfileLinesAndErrors) {
    auto p = parse_profile(
        "# two streams\n"
        "stream name=a rate=10kpps size=64\n"
        "\n"
        "  stream name=b rate=1Mbps size=imix   # trailing comment\n"
        "duration 30\n",
        "lab.gwgen");
    ASSERT_TRUE(p) << p.error().message;
    ASSERT_EQ(p->streams.size(), 2u);
    EXPECT_EQ(p->streams[1].name, "b");
    EXPECT_EQ(p->streams[1].line, 4);
    EXPECT_EQ(p->duration_s, 30);
    EXPECT_FALSE(parse_profile("stream size=64\nduration 1\nduration 2\n", "x"));
    EXPECT_FALSE(parse_profile("stream size=64\nduration -1\n", "x"));

    auto bad = parse_profile("stream rate=1kpps\nstream size=12\n", "lab.gwgen");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message.rfind("lab.gwgen:2: size 12 is below", 0), 0u) << bad.error().message;
    auto unknown = parse_profile("flow rate=1\n", "x");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message,
              "x:1: unknown statement 'flow' (expected 'stream key=value ...' or 'duration SECONDS')");
    EXPECT_FALSE(parse_profile("# nothing\n", "x"));
}

TEST(GwgenSpec, ShippedProfilesAreValid) {
    int seen = 0;
    for (const auto& entry : std::filesystem::directory_iterator(GWGEN_PROFILES_DIR)) {
        if (entry.path().extension() != ".gwgen") {
            continue;
        }
        SCOPED_TRACE(entry.path().string());
        auto p = load_profile(entry.path());
        ASSERT_TRUE(p) << p.error().message;
        EXPECT_GT(p->duration_s, 0);  // every shipped profile is bounded in time
        Options o;
        o.ports = {"net_null0"};
        o.streams = p->streams;
        o.link_speed_mbps = 10'000;
        auto v = validate(o);
        EXPECT_TRUE(v) << v.error().message;
        ++seen;
    }
    EXPECT_GE(seen, 4);
}

TEST(GwgenSpec, OptionsValidation) {
    Options o;
    o.ports = {"net_ring0"};
    o.streams = {*parse_stream("rate=1kpps count=500", "t"), *parse_stream("rate=2kpps count=500", "t")};
    auto v = validate(o);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->streams[0].name, "s0");
    EXPECT_EQ(v->streams[1].name, "s1");
    // Every stream counted: the duration covers the slowest (0.5 s) with a margin.
    EXPECT_NEAR(v->duration_s, 0.5 * 1.05 + 0.5, 1e-9);
    EXPECT_EQ(v->file_prefix.rfind("gwgen-", 0), 0u);

    auto no_port = o;
    no_port.ports.clear();
    EXPECT_FALSE(validate(no_port));
    auto bad_port = o;
    bad_port.streams[1].port = 1;
    auto e = validate(bad_port);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message, "stream 1: port=1 but only 1 ports are given");
    auto same_names = o;
    same_names.streams[0].name = same_names.streams[1].name = "x";
    EXPECT_FALSE(validate(same_names));
    auto main_tx = o;
    main_tx.tx_lcores = {0};
    EXPECT_FALSE(validate(main_tx));
    auto too_many = o;
    too_many.streams.resize(kMaxStreams + 1, o.streams[0]);
    EXPECT_FALSE(validate(too_many));
}

// ---- sizes and pacing ------------------------------------------------------------

TEST(GwgenSizes, ImixIsSpreadAndExact) {
    SizeModel m(*parse_size("imix"));
    uint64_t rng = seed_state(1);
    std::map<uint16_t, int> counts;
    int longest_run = 0;
    int run = 0;
    uint16_t last = 0;
    for (int i = 0; i < 1200; ++i) {
        const uint16_t s = m.next(rng);
        ++counts[s];
        run = s == last ? run + 1 : 1;
        longest_run = std::max(longest_run, run);
        last = s;
    }
    EXPECT_EQ(counts, (std::map<uint16_t, int>{{64, 700}, {576, 400}, {1500, 100}}));
    EXPECT_LE(longest_run, 2);  // 7:4:1 interleaved, never seven 64s in a row
}

TEST(GwgenSizes, RangeIsUniformWithinBounds) {
    SizeModel m(*parse_size("100-199"));
    uint64_t rng = seed_state(7);
    std::vector<int> hist(100, 0);
    for (int i = 0; i < 100'000; ++i) {
        const uint16_t s = m.next(rng);
        ASSERT_GE(s, 100);
        ASSERT_LE(s, 199);
        ++hist[s - 100];
    }
    for (int c : hist) {
        EXPECT_GT(c, 800);  // 1000 expected each
        EXPECT_LT(c, 1200);
    }
}

TEST(GwgenPacing, DeadlinesAreExactWithoutDrift) {
    // 3 GHz TSC, 7 pps does not divide it: each deadline must be floor(k * hz / rate).
    const uint64_t hz = 3'000'000'007;
    for (uint64_t rate : {7ULL, 50'000ULL, 499'999ULL, 14'880'952ULL}) {
        Pacer p;
        const uint64_t t0 = 123'456;
        p.start(t0, hz, rate);
        for (uint64_t k = 1; k <= 2'000'000; ++k) {
            p.advance(1);
            if (k % 99'991 == 0 || k == 2'000'000) {
                const auto exact = static_cast<uint64_t>((static_cast<unsigned __int128>(k) * hz) / rate);
                ASSERT_EQ(p.deadline(), t0 + exact) << "rate " << rate << " packet " << k;
            }
        }
    }
}

TEST(GwgenPacing, BitRateWithSizeMix) {
    // 1 Gb/s of IMIX on the wire: units are bits of frame + 20 B overhead.
    const auto sched = make_schedule(*parse_rate("1Gbps"), 1.0, 0);
    EXPECT_TRUE(sched.per_bit);
    const auto imix = *parse_size("imix");
    const double mean = imix.mean_size();
    EXPECT_NEAR(sched.pps(mean), 1e9 / ((mean + 20) * 8), 1e-6);
    EXPECT_EQ(sched.units(64), (64u + 20) * 8);

    const uint64_t hz = 2'500'000'000;
    Pacer p;
    p.start(0, hz, sched.units_per_s);
    SizeModel sizes(imix);
    uint64_t rng = 1;
    uint64_t bits = 0;
    uint64_t packets = 0;
    while (p.deadline() < hz) {  // one second of schedule
        const uint16_t s = sizes.next(rng);
        p.advance(sched.units(s));
        bits += sched.units(s);
        ++packets;
    }
    // The packets of one second carry 1e9 bits (within one frame) at the mix's mean rate.
    EXPECT_NEAR(static_cast<double>(bits), 1e9, 1500.0 * 8 + 160);
    EXPECT_NEAR(static_cast<double>(packets), sched.pps(mean), 12);  // within one 12-frame cycle

    // Percent of link and load scale the same way.
    const auto pct = make_schedule(*parse_rate("10%"), 0.5, 10'000);
    EXPECT_EQ(pct.units_per_s, 500'000'000u);
    const auto pps = make_schedule(*parse_rate("1Mpps"), 0.25, 0);
    EXPECT_FALSE(pps.per_bit);
    EXPECT_EQ(pps.units_per_s, 250'000u);
    EXPECT_DOUBLE_EQ(make_schedule(*parse_rate("100%"), 1, 10'000).pps(64), 14'880'952.380952381);
}

TEST(GwgenPacing, RebaseRestartsTheScheduleAtNow) {
    Pacer p;
    p.start(1000, 1'000'000, 1000);  // one unit per 1000 cycles
    p.advance(3);
    EXPECT_EQ(p.deadline(), 4000u);
    p.rebase(50'000);
    EXPECT_EQ(p.deadline(), 50'000u);
    p.advance(1);
    EXPECT_EQ(p.deadline(), 51'000u);
}

// ---- frames ----------------------------------------------------------------------

test::Bytes signature_bytes(const Signature& s) {
    test::Bytes b(kSignatureLen);
    write_signature(b.data(), s);
    return b;
}

// The frame an independent builder makes for the same fields.
test::Bytes oracle(const StreamSpec& spec, const FrameTemplate& t, const net::MacAddr& src_mac,
                   const net::MacAddr& dst_mac, uint16_t frame_size, uint32_t flow, const Signature& sig) {
    const FlowFields f = t.flow_fields(flow);
    test::Bytes data = signature_bytes(sig);
    const std::size_t fill_len = frame_size - kFcsLen - t.header_len() - kSignatureLen;
    data.insert(data.end(), t.fill().begin(), t.fill().begin() + static_cast<std::ptrdiff_t>(fill_len));
    if (spec.is_v6()) {
        return test::ether(dst_mac.bytes, src_mac.bytes, test::kEtherIp6,
                           test::ipv6_udp({.src = f.src6, .dst = f.dst6}, f.sport, f.dport, data));
    }
    return test::ether(
        dst_mac.bytes, src_mac.bytes, test::kEtherIp4,
        test::ipv4_udp({.src = f.src4, .dst = f.dst4, .id = static_cast<uint16_t>(sig.seq)}, f.sport, f.dport, data));
}

TEST(GwgenFrame, MatchesAnIndependentBuilderForEverySizeModeAndFamily) {
    const auto smac = *net::parse_mac("02:00:00:00:00:01");
    const auto dmac = *net::parse_mac("02:00:00:00:00:02");
    const char* streams[] = {
        "size=64",
        "size=65 payload=text",
        "size=64-1518 payload=random src=10.0.0.1-10.0.0.7 dport=1-3",
        "size=imix payload=text dst=198.19.0.1-198.19.0.200",
        "size=60:1,64:1 flows=1",  // below the minimum: skipped by validation below
        "ip=6 size=84",
        "ip=6 size=85-9216 payload=random src=2001:db8::fffe-2001:db8::1:3",
        "ip=6 size=84:7,576:4,1500:1 payload=text sport=1-65535 flows=1000",
    };
    int checked = 0;
    for (const char* text : streams) {
        auto spec = parse_stream(text, "t");
        ASSERT_TRUE(spec) << text;
        if (!validate_stream(*spec, "t")) {
            continue;
        }
        FrameTemplate t(*spec, smac, dmac, 42);
        SizeModel sizes(spec->size);
        uint64_t rng = seed_state(3);
        for (uint64_t seq = 0; seq < 300; ++seq) {
            const uint16_t size = sizes.next(rng);
            const uint32_t flow = static_cast<uint32_t>(seq % t.flows());
            const Signature sig{.epoch = 9, .stream = 200, .seq = seq * 77'777'777'777ULL, .tx_tsc = 0xabcdef012345};
            std::vector<uint8_t> frame(size - kFcsLen, 0xee);
            t.write(frame.data(), size, flow, sig);
            ASSERT_EQ(frame, oracle(*spec, t, smac, dmac, size, flow, sig)) << text << " size " << size;
            auto parsed = parse_frame(frame.data(), static_cast<uint32_t>(frame.size()));
            ASSERT_TRUE(parsed) << text;
            EXPECT_EQ(*parsed, sig);
            ++checked;
        }
    }
    EXPECT_EQ(checked, 7 * 300);
}

TEST(GwgenFrame, FlowsAreDistinctCombinations) {
    auto spec = parse_stream("src=10.0.0.1-10.0.0.3 dst=10.1.0.1-10.1.0.2 sport=100-101 dport=7-8", "t");
    ASSERT_TRUE(spec);
    FrameTemplate t(*spec, {}, {}, 1);
    ASSERT_EQ(t.flows(), 24u);
    std::set<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t>> seen;
    for (uint32_t f = 0; f < t.flows(); ++f) {
        const auto ff = t.flow_fields(f);
        seen.emplace(ff.src4, ff.dst4, ff.sport, ff.dport);
    }
    EXPECT_EQ(seen.size(), 24u);
    // The source address varies fastest.
    EXPECT_EQ(t.flow_fields(1).src4, t.flow_fields(0).src4 + 1);
    EXPECT_EQ(t.flow_fields(3).dst4, t.flow_fields(0).dst4 + 1);
}

TEST(GwgenFrame, PayloadKinds) {
    const auto zeros = make_fill(Payload::zeros, 4096, 1);
    EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end(), [](uint8_t b) { return b == 0; }));
    const auto text = make_fill(Payload::text, 4096, 1);
    EXPECT_TRUE(std::all_of(text.begin(), text.end(), [](uint8_t b) { return b == '\n' || (b >= 32 && b < 127); }));
    std::set<uint8_t> text_bytes(text.begin(), text.end());
    EXPECT_LT(text_bytes.size(), 64u);  // a small alphabet: compressible
    const auto random = make_fill(Payload::random, 4096, 1);
    std::set<uint8_t> random_bytes(random.begin(), random.end());
    EXPECT_GT(random_bytes.size(), 250u);
    EXPECT_NE(make_fill(Payload::random, 64, 1), make_fill(Payload::random, 64, 2));
}

TEST(GwgenFrame, ForeignFramesAreNotOurs) {
    auto spec = parse_stream("size=64", "t");
    FrameTemplate t(*spec, {}, {}, 1);
    std::vector<uint8_t> frame(60);
    t.write(frame.data(), 64, 0, Signature{.seq = 5});
    ASSERT_TRUE(parse_frame(frame.data(), 60));
    EXPECT_FALSE(parse_frame(frame.data(), 59));  // truncated signature
    auto tcp = frame;
    tcp[23] = 6;
    EXPECT_FALSE(parse_frame(tcp.data(), 60));
    auto fragment = frame;
    fragment[21] = 1;  // fragment offset 8
    EXPECT_FALSE(parse_frame(fragment.data(), 60));
    auto magic = frame;
    magic[42] ^= 1;
    EXPECT_FALSE(parse_frame(magic.data(), 60));
    auto arp = frame;
    arp[12] = 0x08;
    arp[13] = 0x06;
    EXPECT_FALSE(parse_frame(arp.data(), 60));
    // One VLAN tag in front is looked through.
    std::vector<uint8_t> tagged(frame.begin(), frame.begin() + 12);
    tagged.insert(tagged.end(), {0x81, 0x00, 0x00, 0x05});
    tagged.insert(tagged.end(), frame.begin() + 12, frame.end());
    auto sig = parse_frame(tagged.data(), static_cast<uint32_t>(tagged.size()));
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->seq, 5u);
}

TEST(GwgenSignature, WrapsAt48Bits) {
    std::array<uint8_t, kSignatureLen> b{};
    write_signature(b.data(), Signature{.epoch = 1, .stream = 2, .seq = (uint64_t{1} << 48) + 5, .tx_tsc = ~0ULL});
    auto s = read_signature(b.data());
    ASSERT_TRUE(s);
    EXPECT_EQ(s->seq, 5u);
    EXPECT_EQ(s->tx_tsc, kMask48);
    EXPECT_EQ(tsc_delta48(uint64_t{1} << 48 | 100, 50), 50u);
    EXPECT_EQ(tsc_delta48((uint64_t{7} << 48) | 10, kMask48 - 9), 20u);  // across a wrap
}

// ---- sequence accounting -----------------------------------------------------------

TEST(GwgenSeq, DropsSwapsDuplicatesAndTheWindow) {
    using V = SeqTracker::Verdict;
    SeqTracker t;
    EXPECT_EQ(t.observe(0), V::in_order);
    EXPECT_EQ(t.observe(1), V::in_order);
    EXPECT_EQ(t.observe(3), V::gap);   // 2 missing
    EXPECT_EQ(t.observe(2), V::late);  // reordered
    EXPECT_EQ(t.observe(2), V::duplicate);
    EXPECT_EQ(t.observe(3), V::duplicate);
    EXPECT_EQ(t.observe(4), V::in_order);
    const uint64_t far = 4 + SeqTracker::kWindow + 10;
    EXPECT_EQ(t.observe(far), V::gap);
    EXPECT_EQ(t.observe(4), V::too_late);
    EXPECT_EQ(t.observe(far - 5), V::late);
    EXPECT_EQ(t.observe(far - 5), V::duplicate);
    // Slots reused by the window's move are clean: an old number's bit does not make a
    // new number look like a duplicate.
    SeqTracker u;
    EXPECT_EQ(u.observe(7), V::gap);
    EXPECT_EQ(u.observe(7 + SeqTracker::kWindow + 1), V::gap);
    EXPECT_EQ(u.observe(7 + SeqTracker::kWindow), V::late);
}

// ---- RFC 2544 ----------------------------------------------------------------------

TEST(GwgenRfc2544, BinarySearchFindsTheKnee) {
    // A DUT that loses frames above 62.3% of the offered load.
    std::vector<double> tried;
    auto trial = [&](double load) -> Result<TrialVerdict> {
        tried.push_back(load);
        const double loss = load > 0.623 ? (load - 0.623) / load : 0;
        return TrialVerdict{.load = load, .frame_loss_ratio = loss, .pass = loss <= 0};
    };
    auto out =
        search_throughput({.loss_threshold = 0, .resolution = 0.01, .max_trials = 20}, trial, [] { return false; });
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->found);
    EXPECT_LE(out->load, 0.623);
    EXPECT_GT(out->load, 0.623 - 0.01);
    EXPECT_EQ(tried.front(), 1.0);
    EXPECT_LE(tried.size(), 9u);  // 1 + ceil(log2(100))

    // Bounded by max_trials.
    tried.clear();
    auto few = search_throughput({.resolution = 1e-9, .max_trials = 4}, trial, [] { return false; });
    ASSERT_TRUE(few);
    EXPECT_EQ(tried.size(), 4u);

    // Full load passing ends the search at once.
    tried.clear();
    auto ok = search_throughput(
        {},
        [&](double l) -> Result<TrialVerdict> {
            tried.push_back(l);
            return TrialVerdict{.load = l, .pass = true};
        },
        [] { return false; });
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->load, 1.0);
    EXPECT_EQ(tried.size(), 1u);

    // Nothing passes: not found. An error from a trial ends the search with it.
    auto none = search_throughput(
        {.max_trials = 5}, [](double l) -> Result<TrialVerdict> { return TrialVerdict{.load = l, .pass = false}; },
        [] { return false; });
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->found);
    auto err = search_throughput(
        {}, [](double) -> Result<TrialVerdict> { return make_error("port gone"); }, [] { return false; });
    ASSERT_FALSE(err);
    EXPECT_EQ(err.error().message, "port gone");
    auto stopped = search_throughput({}, trial, [] { return true; });
    ASSERT_TRUE(stopped);
    EXPECT_TRUE(stopped->stopped);
}

TEST(GwgenRfc2544, AGeneratorStallBelowFullLoadIsTriedOnceMore) {
    // The DUT passes everything up to 50%; the generator stalls in the first trial at 50%.
    std::vector<double> tried;
    bool stalled = false;
    auto trial = [&](double load) -> Result<TrialVerdict> {
        tried.push_back(load);
        if (load == 0.5 && !stalled) {
            stalled = true;
            return TrialVerdict{.load = load, .generator_limited = true, .pass = false};
        }
        return TrialVerdict{.load = load, .pass = load <= 0.5};
    };
    auto out = search_throughput({.resolution = 0.3, .max_trials = 2}, trial, [] { return false; });
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->found);
    EXPECT_EQ(out->load, 0.5);
    EXPECT_EQ(tried, (std::vector<double>{1.0, 0.5, 0.5})) << "the repeat is not counted against max_trials";
    EXPECT_EQ(out->verdicts.size(), 3u);
    EXPECT_TRUE(out->verdicts[1].generator_limited);

    // A generator that keeps falling behind: the load is tried twice, then fails.
    tried.clear();
    auto slow = search_throughput(
        {.resolution = 0.3, .max_trials = 2},
        [&](double l) -> Result<TrialVerdict> {
            tried.push_back(l);
            return TrialVerdict{.load = l, .generator_limited = true, .pass = false};
        },
        [] { return false; });
    ASSERT_TRUE(slow);
    EXPECT_FALSE(slow->found);
    EXPECT_EQ(tried, (std::vector<double>{1.0, 0.5, 0.5})) << "full load is not repeated";
}

TEST(GwgenRfc2544, Judge) {
    RunResult r;
    r.load = 0.5;
    r.total.offered = 1000;
    r.total.rx_unique = 999;
    r.total.tx_s = 1;
    r.total.frame_loss_ratio = 0.001;
    EXPECT_FALSE(judge(r, 0).pass);
    EXPECT_TRUE(judge(r, 0.001).pass);
    EXPECT_DOUBLE_EQ(judge(r, 0).offered_pps, 1000);
    r.total.tx_slips = 1;
    EXPECT_TRUE(judge(r, 0.5).generator_limited);
    EXPECT_FALSE(judge(r, 0.5).pass);
}

// ---- EAL arguments -----------------------------------------------------------------

TEST(GwgenEal, VirtualPortsMeanNoPci) {
    Options o;
    o.ports = {"net_ring0", "net_memif0,role=client,socket=/tmp/x.sock"};
    o.tx_lcores = {1, 2};
    o.rx_lcore = 3;
    o.file_prefix = "gwgen-t";
    o.no_huge = true;
    o.eal_extra = {"--vdev=net_null0"};
    const auto a = build_eal_args(o);
    const std::vector<std::string> want = {
        "gwgen",     "-l",          "0,1,2,3", "--main-lcore", "0",        "--file-prefix=gwgen-t", "--no-telemetry",
        "--no-huge", "--no-shconf", "-m",      "512",          "--no-pci", "--log-level=error",     "--vdev=net_null0"};
    EXPECT_EQ(a, want);
    o.ports.push_back("3b:00.0,rxq_cqe_comp_en=0");
    o.no_huge = false;
    const auto b = build_eal_args(o);
    EXPECT_EQ(std::count(b.begin(), b.end(), "--no-pci"), 0);
    EXPECT_NE(std::find(b.begin(), b.end(), "0000:3b:00.0,rxq_cqe_comp_en=0"), b.end());
    EXPECT_NE(std::find(b.begin(), b.end(), "--in-memory"), b.end());
    // An lcore map after "--" replaces gwgen's list (two lcores on one CPU).
    o.eal_extra = {"--lcores", "0@0,1@0"};
    const auto c = build_eal_args(o);
    EXPECT_EQ(std::count(c.begin(), c.end(), "-l"), 0);
    EXPECT_EQ(c[1], "--main-lcore");
    EXPECT_EQ(c.back(), "0@0,1@0");
}

}  // namespace
}  // namespace gw::gen
