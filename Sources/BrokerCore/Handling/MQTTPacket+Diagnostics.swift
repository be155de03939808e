import MQTTCodec

extension MQTTPacket {
    /// The same packet without reason string and user properties, which a sender may leave out to fit the
    /// receiver's Maximum Packet Size (MQTT 5 §3.4.2.2.2 and the like); nil when there is nothing to leave out or
    /// the packet is a PUBLISH, whose user properties belong to the application.
    func withoutDiagnostics() -> MQTTPacket? {
        func strip(_ properties: inout Properties) -> Bool {
            guard properties.reasonString != nil || !properties.userProperties.isEmpty else { return false }
            properties.reasonString = nil
            properties.userProperties = []
            return true
        }
        switch self {
        case .puback(var ack): return strip(&ack.properties) ? .puback(ack) : nil
        case .pubrec(var ack): return strip(&ack.properties) ? .pubrec(ack) : nil
        case .pubrel(var ack): return strip(&ack.properties) ? .pubrel(ack) : nil
        case .pubcomp(var ack): return strip(&ack.properties) ? .pubcomp(ack) : nil
        case .suback(var ack): return strip(&ack.properties) ? .suback(ack) : nil
        case .unsuback(var ack): return strip(&ack.properties) ? .unsuback(ack) : nil
        case .disconnect(var packet): return strip(&packet.properties) ? .disconnect(packet) : nil
        case .connack(var packet): return strip(&packet.properties) ? .connack(packet) : nil
        case .auth(var packet): return strip(&packet.properties) ? .auth(packet) : nil
        case .connect, .publish, .subscribe, .unsubscribe, .pingreq, .pingresp: return nil
        }
    }
}
