import Foundation

/// Decoding of `nft -j` listings. Only what the driver uses is decoded: the names of chains, sets and counters, each
/// rule's chain and comment, counter values and set elements. The rules' expressions are skipped.
enum NFTablesJSON {
    /// The table `family table` in a listing of the ruleset (`nft -j -t list ruleset <family>`); nil when the table
    /// is not in it.
    static func tableListing(_ data: Data, family: String, table: String) throws -> TableListing? {
        let entries = try JSONDecoder().decode(Listing<ObjectEntry>.self, from: data).nftables
        guard entries.contains(where: { $0.table.map { $0.family == family && $0.name == table } ?? false }) else {
            return nil
        }
        var listing = TableListing()
        var chainIndex: [String: Int] = [:]
        for entry in entries {
            if let chain = entry.chain, chain.family == family, chain.table == table {
                chainIndex[chain.name] = listing.chains.count
                listing.chains.append(ListedChain(name: chain.name, hook: chain.hook, policy: chain.policy))
            } else if let rule = entry.rule, rule.family == family, rule.table == table {
                // nft lists a table's chains before their rules.
                guard let index = chainIndex[rule.chain] else { continue }
                listing.chains[index].ruleComments.append(rule.comment)
            } else if let set = entry.set, set.family == family, set.table == table {
                listing.sets.append(set.name)
            } else if let counter = entry.counter, counter.family == family, counter.table == table {
                listing.counters[counter.name] = CounterValue(packets: counter.packets, bytes: counter.bytes)
            }
        }
        return listing
    }

    /// The elements of the one set in `nft -j list set` output.
    static func setElements(_ data: Data) throws -> [ListedElement] {
        let entries = try JSONDecoder().decode(Listing<SetEntry>.self, from: data).nftables
        return entries.compactMap(\.set).flatMap { $0.elem ?? [] }.map(\.listed)
    }

    // MARK: JSON shapes

    private struct Listing<Entry: Decodable>: Decodable {
        var nftables: [Entry]
    }

    /// One object of a listing: `{"chain": {…}}`, `{"rule": {…}}`, …; the kinds not named here (metainfo, maps,
    /// quotas, …) decode to an entry with every field nil.
    private struct ObjectEntry: Decodable {
        var table: TableJSON?
        var chain: ChainJSON?
        var rule: RuleJSON?
        var set: NamedJSON?
        var counter: CounterJSON?
    }

    private struct SetEntry: Decodable {
        var set: SetJSON?
    }

    private struct TableJSON: Decodable {
        var family: String
        var name: String
    }

    private struct NamedJSON: Decodable {
        var family: String
        var table: String
        var name: String
    }

    private struct ChainJSON: Decodable {
        var family: String
        var table: String
        var name: String
        var hook: String?
        var policy: String?
    }

    private struct RuleJSON: Decodable {
        var family: String
        var table: String
        var chain: String
        var comment: String?
    }

    private struct CounterJSON: Decodable {
        var family: String
        var table: String
        var name: String
        var packets: UInt64
        var bytes: UInt64
    }

    private struct SetJSON: Decodable {
        var elem: [ElementJSON]?
    }

    /// A set element: a bare value, or `{"elem": {"val": value, "timeout": s, "expires": s, "comment": "…"}}` when
    /// it has a timeout or a comment.
    private struct ElementJSON: Decodable {
        var listed: ListedElement

        private enum CodingKeys: String, CodingKey { case elem }
        private enum DetailKeys: String, CodingKey { case val, timeout, expires, comment }

        init(from decoder: any Decoder) throws {
            if let container = try? decoder.container(keyedBy: CodingKeys.self), container.contains(.elem) {
                let detail = try container.nestedContainer(keyedBy: DetailKeys.self, forKey: .elem)
                listed = ListedElement(
                    text: try detail.decode(ValueJSON.self, forKey: .val).text,
                    timeout: try detail.decodeIfPresent(Double.self, forKey: .timeout).map(Self.duration),
                    expires: try detail.decodeIfPresent(Double.self, forKey: .expires).map(Self.duration),
                    comment: try detail.decodeIfPresent(String.self, forKey: .comment))
            } else {
                listed = ListedElement(text: try ValueJSON(from: decoder).text)
            }
        }

        /// nft gives timeouts in seconds.
        private static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
    }

    /// A value in nft's notation: `"192.0.2.5"`, `22`, `{"prefix": {"addr": …, "len": 24}}`, `{"range": [a, b]}`,
    /// `{"concat": [a, b]}`.
    private struct ValueJSON: Decodable {
        var text: String

        private enum CodingKeys: String, CodingKey { case prefix, range, concat }
        private enum PrefixKeys: String, CodingKey { case addr, len }

        init(from decoder: any Decoder) throws {
            if let single = try? decoder.singleValueContainer() {
                if let string = try? single.decode(String.self) {
                    text = string
                    return
                }
                if let number = try? single.decode(Int64.self) {
                    text = String(number)
                    return
                }
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if container.contains(.prefix) {
                let prefix = try container.nestedContainer(keyedBy: PrefixKeys.self, forKey: .prefix)
                let address = try prefix.decode(ValueJSON.self, forKey: .addr).text
                text = "\(address)/\(try prefix.decode(Int.self, forKey: .len))"
            } else if container.contains(.range) {
                text = try container.decode([ValueJSON].self, forKey: .range).map(\.text).joined(separator: "-")
            } else if container.contains(.concat) {
                text = try container.decode([ValueJSON].self, forKey: .concat).map(\.text).joined(separator: " . ")
            } else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "unknown set element form"))
            }
        }
    }
}
