import BrokerCore
import MQTTCodec

/// Describes packets the way Mosquitto's verbose log does (`Received PUBLISH from c1 (d0, q1, r0, m3, 'a/b',
/// ... (2 bytes))`), so that operators moving from Mosquitto can read and grep the log as before.
enum PacketLogFormatter {
    static func describe(_ packet: MQTTPacket, direction: ClientConnection.PacketDirection, client: String) -> String {
        let client = client.isEmpty ? "(unknown)" : client
        let verb =
            direction == .received ? "Received \(packet.type) from \(client)" : "Sending \(packet.type) to \(client)"
        switch packet {
        case .connect(let connect):
            let will = connect.will.map { ", will '\($0.topic)' q\($0.qos.rawValue) r\($0.retain ? 1 : 0)" } ?? ""
            return "\(verb) (p\(connect.protocolVersion.rawValue), c\(connect.cleanStart ? 1 : 0), "
                + "k\(connect.keepAlive)\(connect.username.map { ", u'\($0)'" } ?? "")\(will))"
        case .connack(let ack):
            return "\(verb) (\(ack.sessionPresent ? 1 : 0), \(ack.reasonCode.rawValue))"
        case .publish(let publish):
            return "\(verb) (d\(publish.dup ? 1 : 0), q\(publish.qos.rawValue), r\(publish.retain ? 1 : 0), "
                + "m\(publish.packetIdentifier ?? 0), '\(publish.topic)', ... (\(publish.payload.readableBytes) bytes))"
        case .puback(let ack), .pubrec(let ack), .pubrel(let ack), .pubcomp(let ack):
            return "\(verb) (m\(ack.packetIdentifier), rc\(ack.reasonCode.rawValue))"
        case .subscribe(let subscribe):
            let filters = subscribe.subscriptions.map { "\($0.filter) (QoS \($0.options.qos.rawValue))" }
            return "\(verb) (m\(subscribe.packetIdentifier)): " + filters.joined(separator: ", ")
        case .suback(let ack):
            return "\(verb) (m\(ack.packetIdentifier), "
                + ack.reasonCodes.map { "\($0.rawValue)" }.joined(separator: ",")
                + ")"
        case .unsubscribe(let unsubscribe):
            return "\(verb) (m\(unsubscribe.packetIdentifier)): " + unsubscribe.filters.joined(separator: ", ")
        case .unsuback(let ack):
            return "\(verb) (m\(ack.packetIdentifier))"
        case .disconnect(let disconnect):
            return "\(verb) (rc\(disconnect.reasonCode.rawValue))"
        case .auth(let auth):
            return "\(verb) (rc\(auth.reasonCode.rawValue))"
        case .pingreq, .pingresp:
            return verb
        }
    }
}
