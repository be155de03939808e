import BrokerCore
import Events
import Logging
import WebAPI

/// The broker's security events (entity "MQTT broker"): messages refused by inspection and refused log-ins, as
/// network security events, besides the log. Called on the broker's event loops: publishing on the bus never
/// blocks.
final class BrokerSecurityEvents: InspectionObserver, AuthenticationObserver {
    private let bus: EventBus
    private let logger: Logger
    private let log: LoggingInspectionObserver

    init(bus: EventBus, logger: Logger) {
        self.bus = bus
        self.logger = logger
        self.log = LoggingInspectionObserver(logger: logger)
    }

    func messageRejected(_ rejection: InspectionRejection) {
        log.messageRejected(rejection)
        publish(
            "InspectionDrop", "Message refused by inspection: \(rejection.violation)", user: rejection.username,
            [
                EventField(EventField.clientID, rejection.clientID), EventField(EventField.topic, rejection.topic),
                EventField(EventField.listener, rejection.listener),
                EventField(EventField.rule, rejection.violation.rule),
            ])
    }

    func authenticationFailed(_ failure: AuthenticationFailure) {
        logger.notice(
            "log-in refused",
            metadata: [
                "client": "\(failure.clientID)", "address": "\(failure.address)", "listener": "\(failure.listener)",
                "reason": "\(failure.reason)",
            ])
        publish(
            "AuthenticationFailure", "MQTT log-in refused: \(failure.reason)", user: failure.username,
            [
                EventField(EventField.sourceAddress, failure.address),
                EventField(EventField.clientID, failure.clientID),
                EventField(EventField.listener, failure.listener), EventField(EventField.detail, failure.reason),
            ])
    }

    private func publish(_ type: String, _ title: String, user: String?, _ fields: [EventField]) {
        bus.publish(
            SecurityEvent(
                stream: .network, severity: .warning, entity: EventEntity.broker, type: type, title: title,
                fields: fields + (user.map { [EventField(EventField.user, $0)] } ?? [])))
    }
}
