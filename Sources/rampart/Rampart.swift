import RampartApp

@main
struct Rampart {
    static func main() async {
        await RampartCommand.main()
    }
}
