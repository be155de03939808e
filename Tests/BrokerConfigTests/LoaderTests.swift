import BrokerConfig
import MQTTCodec
import Testing

/// Semantics of the loader, one rule at a time.
@Suite struct LoaderTests {
    func load(_ text: String, files: [String: String] = [:], workingDirectory: String? = nil) -> ConfigurationResult {
        var all = files
        all["/etc/mosquitto/mosquitto.conf"] = text
        return ConfigurationLoader.load(
            mainFile: "/etc/mosquitto/mosquitto.conf", source: InMemorySource(all), workingDirectory: workingDirectory)
    }

    @Test func emptyFileGivesMosquittoDefaultsAndTheLocalOnlyListener() throws {
        let result = load("")
        #expect(result.diagnostics.isEmpty)
        let configuration = try #require(result.configuration)
        #expect(configuration.listeners.count == 1)
        let listener = try #require(configuration.listeners.first)
        #expect(listener.kind == .localOnly)
        #expect(listener.port == 1883)
        #expect(configuration.effectiveSecurity(of: listener).allowAnonymous)
        #expect(configuration.maxInflightMessages == 20)
        #expect(configuration.maxQueuedMessages == 1000)
        #expect(configuration.logDestinations == [.stderr])
        #expect(configuration.kosAudit && !configuration.kosEvent)
        #expect(configuration.kosAuditTopic == "SGW/audit" && configuration.kosEventTopic == "SGW/event")
        #expect(configuration.render() == "")
    }

    /// A file written on Windows: "\r\n" is one Character in Swift and must still end a line.
    @Test func windowsLineEndsSeparateLines() throws {
        let result = load("listener 1884\r\nallow_anonymous true\r\nmax_keepalive 30\r\n")
        #expect(result.diagnostics.isEmpty)
        let configuration = try #require(result.configuration)
        #expect(configuration.listeners.map(\.port) == [1884])
        #expect(configuration.allowAnonymous == true)
        #expect(configuration.maxKeepalive == 30)
    }

    @Test func explicitListenerTurnsAnonymousAccessOffByDefault() throws {
        let result = load("listener 1883\n")
        let configuration = try #require(result.configuration)
        let listener = try #require(configuration.listeners.first)
        #expect(listener.kind == .explicit)
        #expect(configuration.listeners.count == 1)
        #expect(!configuration.effectiveSecurity(of: listener).allowAnonymous)
        // Nobody could connect: said, not silently accepted.
        #expect(
            result.warnings.map(\.description) == [
                "/etc/mosquitto/mosquitto.conf:1: listener 1883: no client can connect: allow_anonymous is false (the "
                    + "default when a listener is configured) and there is no password_file; set allow_anonymous true "
                    + "or add a password_file"
            ])
    }

    @Test func optionsBeforeTheFirstListenerConfigureTheDefaultListener() throws {
        let result = load("max_qos 1\nport 1884\nlistener 8883\nmax_qos 0\nallow_anonymous true\n")
        let configuration = try #require(result.configuration)
        #expect(configuration.listeners.map(\.port) == [8883, 1884])
        #expect(configuration.listeners.map(\.kind) == [.explicit, .defaultListener])
        #expect(configuration.listeners.map(\.maxQoS) == [.atMostOnce, .atLeastOnce])
    }

    @Test func portAndBindAddressSetTheDefaultListenerWhereverTheyAppear() throws {
        let result = load("listener 8883\nallow_anonymous true\nbind_address 127.0.0.1\n")
        let configuration = try #require(result.configuration)
        let defaultListener = try #require(configuration.listeners.last)
        #expect(defaultListener.kind == .defaultListener)
        #expect(defaultListener.port == 1883)
        #expect(defaultListener.bindAddress == "127.0.0.1")
    }

    @Test func securityIsGlobalWithoutPerListenerSettings() throws {
        let files = ["/etc/mosquitto/passwd": "u:p\n"]
        let result = load("listener 1883\nlistener 1884\npassword_file /etc/mosquitto/passwd\n", files: files)
        let configuration = try #require(result.configuration)
        #expect(result.diagnostics.isEmpty)
        for listener in configuration.listeners {
            let security = configuration.effectiveSecurity(of: listener)
            #expect(security.passwordFile == "/etc/mosquitto/passwd")
            #expect(!security.allowAnonymous)
        }
    }

    @Test func perListenerSettingsGivesEachListenerItsOwnSecurity() throws {
        let files = ["/etc/mosquitto/passwd": "u:p\n"]
        let text = """
            per_listener_settings true
            listener 1883
            allow_anonymous true
            auto_id_prefix a-
            listener 1884
            password_file /etc/mosquitto/passwd
            allow_zero_length_clientid false
            listener 1885
            listener_allow_anonymous true

            """
        let result = load(text, files: files)
        let configuration = try #require(result.configuration)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let security = configuration.listeners.map(configuration.effectiveSecurity(of:))
        #expect(security.map(\.allowAnonymous) == [true, false, true])
        #expect(security.map(\.passwordFile) == [nil, "/etc/mosquitto/passwd", nil])
        #expect(security.map(\.allowZeroLengthClientID) == [true, false, true])
        #expect(security.map(\.autoIDPrefix) == ["a-", "auto-", "auto-"])
        #expect(configuration.allowAnonymous == nil)
    }

    @Test func listenerAllowAnonymousOverridesTheGlobalSetting() throws {
        let result = load("allow_anonymous true\nlistener 1883\nlistener 1884\nlistener_allow_anonymous false\n")
        let configuration = try #require(result.configuration)
        let anonymous = configuration.listeners.map { configuration.effectiveSecurity(of: $0).allowAnonymous }
        #expect(anonymous == [true, false])
    }

    @Test func perListenerSettingsMustPrecedeSecurityOptions() {
        let result = load("allow_anonymous true\nper_listener_settings true\n")
        #expect(
            result.errors.map(\.description) == [
                "/etc/mosquitto/mosquitto.conf:2: per_listener_settings true must come before every security option "
                    + "(the first one is at /etc/mosquitto/mosquitto.conf:1); move it to the top of the main file"
            ])
    }

    @Test func includeDirLoadsConfFilesInMosquittoOrder() throws {
        var files: [String: String] = [:]
        for (index, name) in ["b", "A", "01", "a", "B", "00", "_x", "Z"].enumerated() {
            files["/etc/mosquitto/conf.d/\(name).conf"] = "listener \(2000 + index)\n"
        }
        files["/etc/mosquitto/conf.d/readme.txt"] = "not loaded\n"
        let result = load("allow_anonymous true\ninclude_dir /etc/mosquitto/conf.d\n", files: files)
        let configuration = try #require(result.configuration)
        // mosquitto.conf(5): case-insensitive first, upper case before lower case of the same letter.
        #expect(
            configuration.files == [
                "/etc/mosquitto/mosquitto.conf",
                "/etc/mosquitto/conf.d/00.conf", "/etc/mosquitto/conf.d/01.conf",
                "/etc/mosquitto/conf.d/A.conf", "/etc/mosquitto/conf.d/a.conf",
                "/etc/mosquitto/conf.d/B.conf", "/etc/mosquitto/conf.d/b.conf",
                "/etc/mosquitto/conf.d/Z.conf", "/etc/mosquitto/conf.d/_x.conf",
            ])
        #expect(configuration.listeners.map(\.port) == [2005, 2002, 2001, 2003, 2004, 2000, 2007, 2006])
    }

    @Test func includeDirIsOnlyHonouredInTheMainFile() throws {
        let files = [
            "/etc/mosquitto/conf.d/a.conf": "include_dir /etc/mosquitto/more\n",
            "/etc/mosquitto/more/b.conf": "listener 1999\n",
        ]
        let result = load("allow_anonymous true\nlistener 1883\ninclude_dir /etc/mosquitto/conf.d\n", files: files)
        let configuration = try #require(result.configuration)
        #expect(configuration.files.count == 2)
        #expect(configuration.listeners.map(\.port) == [1883])
        #expect(
            result.warnings.map(\.description) == [
                "/etc/mosquitto/conf.d/a.conf:1: include_dir is only honoured in the main configuration file; this line "
                    + "is ignored (as in Mosquitto)"
            ])
    }

    @Test func includedFilesStartOutsideAnyListenerOrBridge() {
        let files = ["/etc/mosquitto/conf.d/a.conf": "topic # out 0\n"]
        let result = load("connection b\naddress h\ntopic # in 0\ninclude_dir /etc/mosquitto/conf.d\n", files: files)
        #expect(
            result.errors.map(\.description) == [
                "/etc/mosquitto/conf.d/a.conf:1: topic is a bridge option; it must follow a \"connection\" line in the "
                    + "same file"
            ])
    }

    @Test func relativePathsResolveAgainstTheWorkingDirectory() throws {
        let files = [
            "/srv/gw/passwd": "u:p\n",
            "/srv/gw/conf.d/a.conf": "listener 1884\n",
            "/srv/gw/mosquitto.conf": "password_file passwd\ninclude_dir conf.d\npid_file run/gw.pid\n",
        ]
        let result = ConfigurationLoader.load(
            mainFile: "mosquitto.conf", source: InMemorySource(files), workingDirectory: "/srv/gw")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let configuration = try #require(result.configuration)
        #expect(configuration.passwordFile == "/srv/gw/passwd")
        #expect(configuration.pidFile == "/srv/gw/run/gw.pid")
        #expect(configuration.files == ["/srv/gw/mosquitto.conf", "/srv/gw/conf.d/a.conf"])
    }

    @Test func relativePathsWithoutAWorkingDirectoryStayAsWrittenWithAWarning() throws {
        let files = ["passwd": "u:p\n", "main.conf": "password_file passwd\n"]
        let result = ConfigurationLoader.load(mainFile: "main.conf", source: InMemorySource(files))
        let configuration = try #require(result.configuration)
        #expect(configuration.passwordFile == "passwd")
        #expect(
            result.warnings.map(\.description) == [
                "main.conf:1: password_file: relative path \"passwd\" is relative to the gateway's working directory, "
                    + "not to this file (as in Mosquitto); prefer an absolute path"
            ])
    }

    @Test func everyProblemIsReportedInOnePass() {
        let text = """
            max_inflight_messages many
            listener 1883
            max_qos 9
            frobnicate on
            allow_anonymous perhaps
            log_dest syslog

            """
        let result = load(text)
        #expect(result.configuration == nil)
        #expect(result.errors.count == 5)
        #expect(result.errors.map(\.line) == [1, 3, 4, 5, 6])
    }

    @Test func unreadableMainFileIsReported() {
        let result = ConfigurationLoader.load(mainFile: "/nope.conf", source: InMemorySource([:]))
        #expect(result.configuration == nil)
        #expect(result.errors.map(\.description) == ["/nope.conf: cannot read the configuration file"])
    }

    @Test func booleansAcceptMosquittosSpellingsOnly() throws {
        let ok = try #require(load("persistence 1\nretain_available 0\n").configuration)
        #expect(ok.persistence && !ok.retainAvailable)
        #expect(
            load("persistence yes\n").errors.map(\.message) == [
                "persistence: \"yes\" is not a boolean; use true or false"
            ])
    }

    @Test func stringValuesTakeTheRestOfTheLine() throws {
        let files = ["/etc/my passwords/pw file": "u:p\n"]
        let text =
            "password_file /etc/my passwords/pw file\nconnection b\naddress h\nremote_username u\n"
            + "remote_password two words\ntopic # out 0\n"
        let configuration = try #require(load(text, files: files).configuration)
        #expect(configuration.passwordFile == "/etc/my passwords/pw file")
        #expect(configuration.bridges.first?.remotePassword == "two words")
    }

    @Test func bridgeTopicsParseAsTheManualDescribes() throws {
        let text = """
            connection b
            address h1 h2:1884 ::1:8883
            topic clients/total in 0 test/mosquitto/org/ $SYS/broker/
            topic "" both 2 local/a remote/b
            topic x
            restart_timeout 7

            """
        let bridge = try #require(load(text).configuration?.bridges.first)
        #expect(
            bridge.addresses == [
                BridgeAddress(host: "h1"), BridgeAddress(host: "h2", port: 1884),
                BridgeAddress(host: "::1", port: 8883),
            ])
        #expect(
            bridge.topics == [
                BridgeTopic(
                    pattern: "clients/total", direction: .in, qos: .atMostOnce, localPrefix: "test/mosquitto/org/",
                    remotePrefix: "$SYS/broker/"),
                BridgeTopic(
                    pattern: "", direction: .both, qos: .exactlyOnce, localPrefix: "local/a", remotePrefix: "remote/b"),
                BridgeTopic(pattern: "x"),
            ])
        #expect(bridge.topics[0].localTopic == "test/mosquitto/org/clients/total")
        #expect(bridge.topics[0].remoteTopic == "$SYS/broker/clients/total")
        #expect(bridge.restartTimeout == .constant(7))
    }

    @Test func listenerOptionInsideABridgeSectionIsFlagged() throws {
        let text = "listener 8883\nallow_anonymous true\nconnection b\naddress h\ncafile /ca.crt\ntopic # out 0\n"
        let result = load(text, files: ["/ca.crt": "x"])
        #expect(
            result.diagnostics.map(\.description).contains(
                "/etc/mosquitto/mosquitto.conf:5: cafile applies to listener 8883, not to bridge \"b\" (listener options "
                    + "apply to the most recent \"listener\" line); did you mean bridge_cafile?"))
    }

    @Test func persistentClientExpirationUnits() throws {
        let configuration = try #require(load("persistent_client_expiration 2m\n").configuration)
        #expect(configuration.persistentClientExpiration == ExpirationDuration(count: 2, unit: .month))
        #expect(configuration.persistentClientExpiration?.seconds == 60 * 86400)
    }
}
