import BrokerCore
import Events
import Logging
import WebAPI

/// The broker's security events (entity "MQTT broker"): messages refused by inspection and refused log-ins, as
/// network security events. Called on the broker's event loops: publishing on the bus never blocks.
final class BrokerSecurityEvents: InspectionObserver, AuthenticationObserver {
    private let bus: EventBus
    private let logger: Logger

    init(bus: EventBus, logger: Logger) {
        self.bus = bus
        self.logger = logger
    }

    func messageRejected(_ rejection: InspectionRejection) {
        logger.info(
            "message refused by inspection",
            metadata: [
                "client": "\(rejection.clientID)", "topic": "\(rejection.topic)", "listener": "\(rejection.listener)",
                "violation": "\(rejection.violation)",
            ])
        var fields = [
            EventField(EventField.clientID, rejection.clientID), EventField(EventField.topic, rejection.topic),
            EventField(EventField.listener, rejection.listener), EventField(EventField.rule, rejection.violation.rule),
        ]
        if let username = rejection.username { fields.append(EventField(EventField.user, username)) }
        bus.publish(
            SecurityEvent(
                stream: .network, severity: .warning, entity: EventEntity.broker, type: "InspectionDrop",
                title: "Message refused by inspection: \(rejection.violation)", fields: fields))
    }

    func authenticationFailed(_ failure: AuthenticationFailure) {
        logger.notice(
            "log-in refused",
            metadata: [
                "client": "\(failure.clientID)", "address": "\(failure.address)", "listener": "\(failure.listener)",
                "reason": "\(failure.reason)",
            ])
        var fields = [
            EventField(EventField.sourceAddress, failure.address), EventField(EventField.clientID, failure.clientID),
            EventField(EventField.listener, failure.listener), EventField(EventField.detail, failure.reason),
        ]
        if let username = failure.username { fields.append(EventField(EventField.user, username)) }
        bus.publish(
            SecurityEvent(
                stream: .network, severity: .warning, entity: EventEntity.broker, type: "AuthenticationFailure",
                title: "MQTT log-in refused: \(failure.reason)", fields: fields))
    }
}
