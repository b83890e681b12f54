"""What the bridge itself says, per language of the skill's locales; Home Assistant's answers come from HA."""

PHRASES = {
    "en": {
        "greeting": "Home Assistant here. What should I do?",
        "reprompt": "You can ask me to turn something on or off, or ask about your home. What should I do?",
        "anything_else": "Anything else?",
        "ask_what": "What should I ask Home Assistant?",
        "help": "Tell me what to do, for example: turn off the kitchen lights, or: is the front door locked? "
        "Say stop when you're done. What should I do?",
        "fallback": "Sorry, I didn't catch that. Try a command like: turn off the kitchen lights.",
        "unsupported": "Sorry, I can't do that here.",
        "goodbye": "Goodbye.",
        "one_moment": "One moment.",
        "done": "Done.",
        "not_done": "Sorry, Home Assistant couldn't do that.",
        "link_account": "To use Home Assistant, please link your account in the Alexa app. I've sent you a card.",
        "link_rejected": "Home Assistant didn't accept your account link. "
        "Please link the skill again in the Alexa app. I've sent you a card.",
        "token_rejected": "Sorry, Home Assistant rejected the bridge's access token.",
        "banned": "Sorry, Home Assistant has blocked the bridge after failed logins.",
        "not_configured": "Sorry, the bridge doesn't know where your Home Assistant is.",
        "unreachable": "Sorry, I can't reach Home Assistant right now.",
        "timeout": "Sorry, Home Assistant took too long to answer. It may still be working on it.",
        "failed": "Sorry, something went wrong talking to Home Assistant.",
        "card_title": "Home Assistant",
    },
    "de": {
        "greeting": "Hier ist Home Assistant. Was soll ich tun?",
        "reprompt": "Du kannst mich bitten, etwas ein- oder auszuschalten, oder nach deinem Zuhause fragen. "
        "Was soll ich tun?",
        "anything_else": "Noch etwas?",
        "ask_what": "Was soll ich Home Assistant fragen?",
        "help": "Sag mir, was ich tun soll, zum Beispiel: schalte das Küchenlicht aus, oder: "
        "ist die Haustür abgeschlossen? Sag stopp, wenn du fertig bist. Was soll ich tun?",
        "fallback": "Das habe ich leider nicht verstanden. Versuch es mit: schalte das Küchenlicht aus.",
        "unsupported": "Das kann ich hier leider nicht.",
        "goodbye": "Tschüss.",
        "one_moment": "Einen Moment.",
        "done": "Erledigt.",
        "not_done": "Das konnte Home Assistant leider nicht tun.",
        "link_account": "Um Home Assistant zu nutzen, verknüpfe bitte dein Konto in der Alexa App. "
        "Ich habe dir eine Karte geschickt.",
        "link_rejected": "Home Assistant hat deine Kontoverknüpfung nicht akzeptiert. Bitte verknüpfe den Skill "
        "in der Alexa App neu. Ich habe dir eine Karte geschickt.",
        "token_rejected": "Home Assistant hat das Zugriffstoken der Brücke leider abgelehnt.",
        "banned": "Home Assistant hat die Brücke leider nach fehlgeschlagenen Anmeldungen gesperrt.",
        "not_configured": "Die Brücke weiß leider nicht, wo dein Home Assistant ist.",
        "unreachable": "Ich erreiche Home Assistant gerade leider nicht.",
        "timeout": "Home Assistant hat leider zu lange gebraucht. Vielleicht arbeitet es noch daran.",
        "failed": "Bei der Verbindung mit Home Assistant ist leider etwas schiefgegangen.",
        "card_title": "Home Assistant",
    },
    "fr": {
        "greeting": "Ici Home Assistant. Que dois-je faire ?",
        "reprompt": "Vous pouvez me demander d'allumer ou d'éteindre quelque chose, ou poser une question sur "
        "votre maison. Que dois-je faire ?",
        "anything_else": "Autre chose ?",
        "ask_what": "Que dois-je demander à Home Assistant ?",
        "help": "Dites-moi quoi faire, par exemple : éteins la lumière de la cuisine, ou : la porte d'entrée "
        "est-elle verrouillée ? Dites stop quand vous avez fini. Que dois-je faire ?",
        "fallback": "Désolé, je n'ai pas compris. Essayez par exemple : éteins la lumière de la cuisine.",
        "unsupported": "Désolé, je ne peux pas faire cela ici.",
        "goodbye": "Au revoir.",
        "one_moment": "Un instant.",
        "done": "C'est fait.",
        "not_done": "Désolé, Home Assistant n'a pas pu le faire.",
        "link_account": "Pour utiliser Home Assistant, associez votre compte dans l'application Alexa. "
        "Je vous ai envoyé une carte.",
        "link_rejected": "Home Assistant n'a pas accepté l'association de votre compte. Associez de nouveau la "
        "skill dans l'application Alexa. Je vous ai envoyé une carte.",
        "token_rejected": "Désolé, Home Assistant a refusé le jeton d'accès du pont.",
        "banned": "Désolé, Home Assistant a bloqué le pont après des échecs de connexion.",
        "not_configured": "Désolé, le pont ne sait pas où se trouve votre Home Assistant.",
        "unreachable": "Désolé, je n'arrive pas à joindre Home Assistant pour le moment.",
        "timeout": "Désolé, Home Assistant a mis trop de temps à répondre. Il y travaille peut-être encore.",
        "failed": "Désolé, un problème est survenu avec Home Assistant.",
        "card_title": "Home Assistant",
    },
}
DEFAULT_LANGUAGE = "en"


def phrase(key: str, locale: str) -> str:
    """The phrase `key` in the language of `locale` (e.g. "de-DE"), English when that language has none."""
    language = locale.split("-", 1)[0].lower()
    return PHRASES.get(language, PHRASES[DEFAULT_LANGUAGE]).get(key) or PHRASES[DEFAULT_LANGUAGE][key]
